/* "Preview" with JavaScript: the text goes to the preview endpoint, which answers with the sanitised HTML
   the reply would be stored as; it is shown above the form and focus moves to its heading, so a screen
   reader announces it. Without JavaScript the button posts the form and the page comes back with the
   same preview. */
(function () {
  "use strict";
  var form = document.getElementById("commentform");
  var button = document.getElementById("preview");
  var region = document.getElementById("reply-preview");
  if (!form || !button || !region || !window.fetch) { return; }
  var content = document.getElementById("reply-preview-content");
  var heading = document.getElementById("reply-preview-title");

  function show(html, isError) {
    content.innerHTML = "";
    if (isError) {
      var message = document.createElement("p");
      message.className = "field-error";
      message.textContent = html;
      content.appendChild(message);
    } else {
      content.innerHTML = html;  // sanitised by the server (archive/markup.py), as the stored reply is
    }
    region.hidden = false;
    heading.focus();
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    var body = new URLSearchParams();
    body.append("comment", document.getElementById("comment").value);
    button.disabled = true;
    fetch(form.getAttribute("data-preview-url"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (answer) {
        return answer.text().then(function (text) { show(text, !answer.ok); });
      })
      .catch(function () { show("The preview could not be loaded; your text is still in the form.", true); })
      .then(function () { button.disabled = false; });
  });
})();
