// The ticket page's FAQ Sipol suggestions: a click puts that answer into the reply box and
// records which entry was used (faq_id), without reloading the page. Without JavaScript
// the same button submits a GET form that reloads the page with the answer filled in.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-faq-id]");
  if (!button) { return; }
  var id = button.getAttribute("data-faq-id");
  var answer = document.getElementById("faq-answer-" + id);
  var body = document.getElementById("reply-body");
  var field = document.getElementById("faq_id");
  if (!answer || !body || !field) { return; }
  event.preventDefault();
  var text = answer.textContent;
  body.value = body.value.trim() ? body.value.replace(/\s+$/, "") + "\n\n" + text : text;
  field.value = id;
  body.focus();
});
