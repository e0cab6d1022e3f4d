// "Select all N matching rows": the action then applies to every row the current filters and search match,
// not only the checked ones. The action form is posted to the list's own query string so the server
// applies the same filters.
(function () {
  var banner = document.getElementById('select-all-banner');
  var form = document.getElementById('action_form');
  if (!banner || !form) return;
  var toggle = document.querySelector('.action-rowtoggle');
  var selectAll = false;
  // form.action would be the hidden <input name="action">: use the attribute.
  form.setAttribute('action', form.getAttribute('action').split('?')[0] + window.location.search);

  function boxes() { return document.querySelectorAll('input.action-checkbox'); }
  function refresh() {
    var all = boxes().length > 0 && Array.prototype.every.call(boxes(), function (b) { return b.checked; });
    banner.hidden = !all;
    if (!all) { selectAll = false; }
    document.getElementById('select-all-matching').hidden = selectAll;
    document.getElementById('select-all-page').hidden = selectAll;
    document.getElementById('select-all-chosen').hidden = !selectAll;
  }
  if (toggle) toggle.addEventListener('change', function () { setTimeout(refresh, 0); });
  Array.prototype.forEach.call(boxes(), function (b) { b.addEventListener('change', refresh); });
  document.getElementById('select-all-matching').addEventListener('click', function (event) {
    event.preventDefault();
    selectAll = true;
    refresh();
  });
  $(form).on('submit', function () {
    $('input[name="select_all"]', form).remove();
    if (selectAll) $(form).append('<input type="hidden" name="select_all" value="1">');
  });
})();
