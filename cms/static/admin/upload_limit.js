// A file over the upload limit is refused in the browser, before the form is sent: the request would be refused
// whole (413) and everything typed into the form lost with it. The limit and the message come from #upload-limit
// (MAX_CONTENT_LENGTH, cms/templates/admin/cms_base.html); an input's own data-max-bytes can lower it.
(function () {
  var limit = document.getElementById('upload-limit');
  if (!limit) return;

  function check(input) {
    var max = Number(input.getAttribute('data-max-bytes') || limit.getAttribute('data-max-bytes'));
    var size = Array.prototype.reduce.call(input.files || [], function (sum, file) { return sum + file.size; }, 0);
    var message = max && size > max ? limit.getAttribute('data-message') : '';
    input.setCustomValidity(message);
    input.classList.toggle('is-invalid', Boolean(message));
    var note = input.parentNode.querySelector('.upload-limit-note');
    if (message && !note) {
      note = document.createElement('div');
      note.className = 'invalid-feedback d-block upload-limit-note';
      note.setAttribute('role', 'alert');
      input.insertAdjacentElement('afterend', note);
    }
    if (note) {
      note.textContent = message;
      note.hidden = !message;
    }
    return !message;
  }

  document.addEventListener('change', function (event) {
    if (event.target.matches && event.target.matches('input[type=file]')) check(event.target);
  });
  // Also for forms the browser does not validate (novalidate): stop the send, keep the page as it is.
  document.addEventListener('submit', function (event) {
    var inputs = event.target.querySelectorAll('input[type=file]');
    var fine = Array.prototype.every.call(inputs, function (input) { return check(input); });
    if (!fine) {
      event.preventDefault();
      event.target.querySelector('input[type=file].is-invalid').focus();
    }
  }, true);
})();
