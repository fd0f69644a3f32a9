/* Revenues 2000 client script: function keys and Enter-to-next-field, in every frame. */

function rvBreakOutOfFrames() {
  if (window.top !== window.self) { window.top.location.href = window.location.href; }
}

function rvPress(key) {
  var button = document.querySelector('[accesskey="' + key + '"]');
  if (button && !button.disabled) { button.click(); return true; }
  return false;
}

function rvSearch() {
  var main = window.top.frames['main'];
  (main || window).location.href = '/main/search';
}

function rvNextField(event) {
  var field = event.target;
  var form = field.form;
  if (!form || field.tagName === 'BUTTON' || field.tagName === 'TEXTAREA' || field.type === 'submit') { return; }
  var order = [];
  for (var i = 0; i < form.elements.length; i++) {
    var el = form.elements[i];
    if (el.type !== 'hidden' && !el.disabled) { order.push(el); }
  }
  var next = order[order.indexOf(field) + 1];
  event.preventDefault();  /* Enter never submits a form: F10 or the button does */
  if (next) { next.focus(); }
}

document.addEventListener('keydown', function (event) {
  var handled = true;
  if (event.key === 'F2') { rvSearch(); }
  else if (event.key === 'F4') { handled = rvPress('f'); }
  else if (event.key === 'F10') { handled = rvPress('s'); }
  else if (event.key === 'Escape') { handled = rvPress('c'); }
  else if (event.key === 'Enter') { rvNextField(event); handled = false; }
  else { handled = false; }
  if (handled) { event.preventDefault(); }
});

window.addEventListener('load', function () {
  var first = document.querySelector('form input[type="text"], form select');
  if (first && document.body.className !== 'menu') { first.focus(); }
});
