// What the console's pages would otherwise do with inline handlers or style attributes, which the
// Content-Security-Policy forbids (cms/headers.py):
// - a form with data-confirm asks before it is sent;
// - a "With selected" item with data-action runs that bulk action (Flask-Admin's modelActions);
// - a button with data-inline-add adds an inline form (Flask-Admin's faForm), e.g. a post's translation;
// - links to "javascript:void(0)" (Flask-Admin's tabs, menus and pagination) do not navigate;
// - an element with data-percent is drawn that wide (progress bars);
// - controls that Flask-Admin's scripts add unnamed get a name, for assistive technology: Select2's mouse-only
//   links (its chosen value, each choice's "x") and the inputs of each list filter;
// - a page that opens filtered starts the Tab order at the top (the skip link), not in the filters.
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
  // Select2 (run by Flask-Admin when the page is ready, and again for each choice made) leaves its links unnamed;
  // its keyboard input beside them is named by the field's label.
  var removeLabel = document.documentElement.getAttribute('data-remove-label') || 'Remove';
  function nameSelect2Links(root) {
    Array.prototype.forEach.call(root.querySelectorAll('a.select2-choice:not([aria-label])'), function (link) {
      var container = link.closest('.select2-container');
      var field = container && container.id.indexOf('s2id_') === 0 ? container.id.slice(5) : '';
      var label = field ? document.querySelector('label[for="' + field + '"]') : null;
      link.setAttribute('aria-label', label ? label.textContent.trim() : field);
    });
    Array.prototype.forEach.call(root.querySelectorAll('a.select2-search-choice-close:not([aria-label])'),
      function (link) {
        var choice = link.parentNode ? link.parentNode.textContent.trim() : '';
        link.setAttribute('aria-label', removeLabel + (choice ? ' ' + choice : ''));
      });
  }
  function nameFilterInputs(root) {
    Array.prototype.forEach.call(root.querySelectorAll('#filter_form tr'), function (row) {
      var remove = row.querySelector('.remove-filter');
      var name = remove ? remove.textContent.replace('\u00d7', '').trim() : '';
      Array.prototype.forEach.call(row.querySelectorAll('.filter-op, .filter-val'), function (control) {
        if (name && control.getAttribute('aria-label') !== name) control.setAttribute('aria-label', name);
      });
    });
  }
  function nameControls() { nameSelect2Links(document); nameFilterInputs(document); }
  new MutationObserver(nameControls).observe(document.body, {childList: true, subtree: true});
  nameControls();
  // Flask-Admin's filter script focuses each active filter's input as it draws it, so on a filtered list (the
  // comment queue opens filtered on Pending) a keyboard user's first Tab would land past the skip link and the
  // navigation (Select2 then hides the input, so the focus is lost but the Tab order still starts there). Once the
  // page has loaded, unless something else has the focus, the Tab order starts at the top of the page again.
  window.addEventListener('load', function () {
    var focused = document.activeElement;
    if (!document.getElementById('filter_form')) return;
    if (focused && focused !== document.body && !(focused.closest && focused.closest('#filter_form'))) return;
    var body = document.body;
    body.setAttribute('tabindex', '-1');
    body.focus({preventScroll: true});
    body.removeAttribute('tabindex');
  });
})();
