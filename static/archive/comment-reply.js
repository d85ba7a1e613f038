/* Threaded replies with JavaScript: "Reply" moves the form under the comment and sets comment_parent;
   "Cancel reply" puts it back. Without JavaScript the links work as plain links (?replytocom=N). */
(function () {
  "use strict";
  var respond = document.getElementById("respond");
  var form = document.getElementById("commentform");
  if (!respond || !form) { return; }
  var home = document.createElement("div");
  home.id = "respond-home";
  home.hidden = true;
  respond.parentNode.insertBefore(home, respond);
  var parentField = document.getElementById("comment_parent");
  var cancel = document.getElementById("cancel-comment-reply-link");
  var title = document.getElementById("reply-title-text");
  var defaultTitle = "Leave a Reply";

  function setTitle(text) { title.textContent = text; }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest(".comment-reply-link") : null;
    if (!link) { return; }
    var below = document.getElementById(link.getAttribute("data-belowelement"));
    if (!below) { return; }
    event.preventDefault();
    below.parentNode.insertBefore(respond, below.nextSibling);
    parentField.value = link.getAttribute("data-commentid");
    setTitle(link.getAttribute("data-replyto") || defaultTitle);
    cancel.hidden = false;
    document.getElementById("comment").focus();
  });

  cancel.addEventListener("click", function (event) {
    event.preventDefault();
    home.parentNode.insertBefore(respond, home);
    parentField.value = "0";
    setTitle(defaultTitle);
    cancel.hidden = true;
    document.getElementById("comment").focus();
  });
})();
