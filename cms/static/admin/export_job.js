// A background export's page: polls the job's status and moves the progress bar until the file is ready
// (labels and statuses from the page's #export-labels block).
(function () {
  var box = document.getElementById('export-job');
  var source = document.getElementById('export-labels');
  if (!box || !source) return;
  var page = JSON.parse(source.textContent), labels = page.labels, FAILED = page.failed, DONE = page.done;
  function poll() {
    fetch(box.dataset.statusUrl, {credentials: 'same-origin'}).then(function (r) { return r.json(); }).then(function (job) {
      var bar = document.getElementById('export-progress');
      bar.style.width = job.percent + '%'; bar.textContent = job.percent + '%'; bar.setAttribute('aria-valuenow', job.percent);
      document.getElementById('export-count').textContent =
        labels.rows.replace('__done__', job.done.toLocaleString()).replace('__total__', job.total.toLocaleString());
      var state = document.getElementById('export-state');
      if (job.status === FAILED) {
        state.textContent = labels[FAILED].replace('__error__', job.error); bar.classList.add('bg-danger');
        var again = document.getElementById('export-run-again'); if (again) { again.hidden = false; }
        return;
      }
      state.textContent = labels[job.status] || job.status;
      if (job.status === DONE) { document.getElementById('export-download').hidden = false; return; }
      setTimeout(poll, 700);
    });
  }
  poll();
})();
