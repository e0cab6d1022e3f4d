// The dashboard's chart of comments per day (data from the page's #chart-data block); a click on a bar opens
// that day's comments.
(function () {
  var canvas = document.getElementById('comments-chart');
  var source = document.getElementById('chart-data');
  if (!canvas || !source) return;
  var data = JSON.parse(source.textContent);
  var chart = new Chart(canvas, {
    type: 'bar',
    data: {labels: data.labels, datasets: [{label: canvas.dataset.label, data: data.counts, backgroundColor: '#2c7be5'}]},
    options: {animation: false, plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true, ticks: {precision: 0}}},
              onClick: function (event, elements) {
                if (elements.length && data.links[elements[0].index]) window.location = data.links[elements[0].index];
              }}
  });
  canvas.dataset.rendered = chart.data.datasets[0].data.length;
})();
