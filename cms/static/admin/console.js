// What the console's pages would otherwise do with inline handlers or style attributes, which the
// Content-Security-Policy forbids (cms/headers.py):
// - a form with data-confirm asks before it is sent;
// - a "With selected" item with data-action runs that bulk action (Flask-Admin's modelActions);
// - a button with data-inline-add adds an inline form (Flask-Admin's faForm), e.g. a post's translation;
// - links to "javascript:void(0)" (Flask-Admin's tabs, menus and pagination) do not navigate;
// - an element with data-percent is drawn that wide (progress bars).
(function () {
  document.addEventListener('submit', function (event) {
    var message = event.target.getAttribute('data-confirm');
    if (message && !event.defaultPrevented && !window.confirm(message)) event.preventDefault();
  });
  // Capture, so that a script that stops the click (Bootstrap's menus do) cannot let a javascript: link through.
  document.addEventListener('click', function (event) {
    var link = event.target.closest ? event.target.closest('a') : null;
    if (!link) return;
    if (link.hasAttribute('data-action')) {
      event.preventDefault();
      window.modelActions.execute(link.getAttribute('data-action'));
    } else if (link.hasAttribute('data-inline-add')) {
      event.preventDefault();
      window.faForm.addInlineField(link, link.getAttribute('data-inline-add'));
    } else if (/^\s*javascript:/i.test(link.getAttribute('href') || '')) {
      event.preventDefault();
    }
  }, true);
  Array.prototype.forEach.call(document.querySelectorAll('[data-percent]'), function (element) {
    element.style.width = element.getAttribute('data-percent') + '%';
  });
})();
