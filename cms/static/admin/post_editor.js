// The post editor: a live preview rendered by the server's own sanitiser, and an image picker that
// inserts Markdown for a media library image at the cursor.
(function () {
  var tools = document.getElementById('post-editor-tools');
  var body = document.getElementById('body');
  if (!tools || !body) return;
  var preview = document.getElementById('markdown-preview');
  var picker = document.getElementById('media-picker');
  var timer = null;

  function render() {
    var data = new FormData();
    data.append('body', body.value);
    fetch(tools.dataset.previewUrl, {
      method: 'POST', body: data, credentials: 'same-origin', headers: {'X-CSRFToken': tools.dataset.csrf}
    }).then(function (r) { return r.ok || r.status === 400 ? r.json() : {html: ''}; })
      .then(function (json) {
        // A text the formatter refuses (nested too deeply) says why, as text.
        if (json.error) { preview.textContent = json.error; } else { preview.innerHTML = json.html; }
      });
  }
  body.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(render, 300); });
  render();

  function insertAtCursor(text) {
    var start = body.selectionStart, end = body.selectionEnd;
    body.value = body.value.slice(0, start) + text + body.value.slice(end);
    body.selectionStart = body.selectionEnd = start + text.length;
    body.dispatchEvent(new Event('input'));
    body.focus();
  }
  document.getElementById('insert-media').addEventListener('click', function () {
    if (!picker.hidden) { picker.hidden = true; return; }
    fetch(tools.dataset.mediaUrl, {credentials: 'same-origin'}).then(function (r) { return r.json(); })
      .then(function (json) {
        picker.innerHTML = '';
        json.items.forEach(function (item) {
          var button = document.createElement('button');
          button.type = 'button';
          button.className = 'btn btn-light m-1 media-choice';
          button.title = item.name;
          var img = document.createElement('img');
          img.src = item.thumbnail; img.alt = item.name; img.style.maxHeight = '80px';
          button.appendChild(img);
          button.addEventListener('click', function () {
            insertAtCursor('![' + item.name.replace(/[\[\]]/g, '') + '](' + item.url + ')');
            picker.hidden = true;
          });
          picker.appendChild(button);
        });
        if (!json.items.length) picker.textContent = picker.dataset.empty || 'No images yet.';
        picker.hidden = false;
      });
  });
})();
