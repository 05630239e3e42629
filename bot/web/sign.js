// The signing page's canvas: a finger, a pen or a mouse draws the signature (pointer events); Clear starts
// again; on submit the drawing goes into the form as a PNG data URL. When the screen turns (or the window is
// resized) the canvas is fitted again, which clears it, and the page says so: strokes drawn for the old size
// would land in the wrong place. Served as a file: the page's Content-Security-Policy allows scripts from the
// bot only.
(function () {
  "use strict";
  var form = document.getElementById("sign-form");
  var canvas = document.getElementById("signature-pad");
  if (!form || !canvas) { return; }
  var field = document.getElementById("signature");
  var problem = document.getElementById("signature-problem");
  var cleared = document.getElementById("signature-cleared");
  var MAX_SIDE = 2000;  // pixels: the page refuses a larger signature (bot/signing_page.py MAX_SIDE)
  var fitted = null;  // the size and pixel ratio the canvas was fitted to
  var context = canvas.getContext("2d");
  var inked = false;
  var drawing = null;

  function measure() {  // the canvas's size on screen, and its pixels per CSS pixel (dense, within MAX_SIDE)
    var box = canvas.getBoundingClientRect();
    var ratio = Math.min(window.devicePixelRatio || 1, MAX_SIDE / Math.max(box.width, box.height, 1));
    return { box: box, ratio: ratio, key: box.width + "x" + box.height + "@" + ratio };
  }

  function fit() {  // the canvas's pixels follow its size on screen, sharp on a phone's dense screen
    var size = measure(), box = size.box, ratio = size.ratio;
    fitted = size.key;
    canvas.width = Math.round(box.width * ratio);
    canvas.height = Math.round(box.height * ratio);
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#111";
    inked = false;
  }

  function at(event) {
    var box = canvas.getBoundingClientRect();
    return { x: event.clientX - box.left, y: event.clientY - box.top };
  }

  canvas.addEventListener("pointerdown", function (event) {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    drawing = at(event);
    context.beginPath();
    context.arc(drawing.x, drawing.y, 1, 0, 2 * Math.PI);
    context.fill();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    event.preventDefault();
    var point = at(event);
    context.beginPath();
    context.moveTo(drawing.x, drawing.y);
    context.lineTo(point.x, point.y);
    context.stroke();
    drawing = point;
    inked = true;
    problem.hidden = true;
    cleared.hidden = true;
  });
  function stop() { drawing = null; }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  document.getElementById("clear-signature").addEventListener("click", function () {
    context.clearRect(0, 0, canvas.width, canvas.height);
    inked = false;
  });

  form.addEventListener("submit", function (event) {
    if (!inked) {
      event.preventDefault();
      problem.hidden = false;
      return;
    }
    field.value = canvas.toDataURL("image/png");
  });

  function refit() {
    if (measure().key === fitted) { return; }  // the window changed but not the canvas (a toolbar sliding away)
    var had = inked;
    fit();
    if (had) { cleared.hidden = false; }
  }
  window.addEventListener("resize", refit);
  window.addEventListener("orientationchange", refit);

  fit();
})();
