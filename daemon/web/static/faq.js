// The ticket page's suggestions beside the reply box: an FAQ Sipol answer (data-faq-id) or
// one of the office's saved replies (data-canned-id). A click puts that text into the reply
// box without reloading the page; an FAQ answer also records which entry was used (faq_id).
// Without JavaScript the same controls reload the page (?faq=ID or ?canned=ID) with the
// text filled in.
function insertIntoReply(text) {
  var body = document.getElementById("reply-body");
  if (!body) { return false; }
  body.value = body.value.trim() ? body.value.replace(/\s+$/, "") + "\n\n" + text : text;
  body.focus();
  return true;
}

document.addEventListener("click", function (event) {
  var faq = event.target.closest("[data-faq-id]");
  if (faq) {
    var id = faq.getAttribute("data-faq-id");
    var answer = document.getElementById("faq-answer-" + id);
    var field = document.getElementById("faq_id");
    if (!answer || !field) { return; }
    event.preventDefault();
    if (insertIntoReply(answer.textContent)) { field.value = id; }
    return;
  }
  var canned = event.target.closest("[data-canned-id]");
  if (canned) {
    var saved = document.getElementById("canned-answer-" + canned.getAttribute("data-canned-id"));
    if (!saved) { return; }
    event.preventDefault();
    insertIntoReply(saved.textContent);
  }
});
