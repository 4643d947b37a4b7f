// The Buku Tamu signature: the visitor draws on the canvas with a finger, a pen or the mouse
// (Signature Pad, vendor/signature_pad.umd.min.js); on submit the drawing goes into the hidden
// `signature` field as a PNG data URL, empty when nothing was drawn (then the visit is
// recorded as signed on the paper list). "Hapus" clears it. Without JavaScript the signature
// block stays hidden and the form posts without one. A form shown again after a refusal
// carries the drawing back in the field, and it is redrawn here.
(function () {
  "use strict";
  var form = document.getElementById("guestbook-form");
  var canvas = document.getElementById("signature-pad");
  var block = document.getElementById("signature-block");
  if (!form || !canvas || !block || typeof window.SignaturePad !== "function") { return; }
  var field = form.elements.namedItem("signature");
  block.hidden = false;
  var pad = new window.SignaturePad(canvas, {penColor: "#0b1f4d", minWidth: 1, maxWidth: 3});

  // The canvas' bitmap follows its on-screen size and the screen's pixel density, or strokes
  // would land away from the finger and look blurred.
  function fit() {
    var kept = pad.isEmpty() ? null : pad.toDataURL("image/png");
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    if (kept) { restore(kept); }
  }

  function restore(url) {
    pad.fromDataURL(url, {width: canvas.offsetWidth, height: canvas.offsetHeight})
      .catch(function () { field.value = ""; });
  }

  fit();
  if (field.value) { restore(field.value); }
  window.addEventListener("resize", fit);

  document.getElementById("signature-clear").addEventListener("click", function () {
    pad.clear();
    field.value = "";
  });
  form.addEventListener("submit", function () {
    field.value = pad.isEmpty() ? "" : pad.toDataURL("image/png");
  });
})();
