// Every <time data-local-time datetime="…Z"> (cms/timestamps.py) is shown to the minute in this browser's time
// zone, in the language of the element (its lang, as the server wrote it); its title keeps the UTC time. Without
// this script the page shows UTC.
(function () {
  var options = {dateStyle: 'medium', timeStyle: 'short'};
  function formatter(language) {
    try {
      return new Intl.DateTimeFormat(language || undefined, options);
    } catch (error) {
      return new Intl.DateTimeFormat(undefined, options);
    }
  }
  Array.prototype.forEach.call(document.querySelectorAll('time[data-local-time]'), function (element) {
    var moment = new Date(element.getAttribute('datetime'));
    if (!isNaN(moment.getTime())) element.textContent = formatter(element.lang).format(moment);
  });
})();
