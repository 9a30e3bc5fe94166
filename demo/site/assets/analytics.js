// What gtag.js does on a visitor's first page view, in miniature: it writes the `_ga` client-id
// cookie from JavaScript, for two years, on the site's own domain. No server ever sends this cookie
// in a Set-Cookie header, so only the browser-side consent check or an expiry from the edge can
// remove it.
(function () {
  if (/(?:^|;\s*)_ga=/.test(document.cookie)) return;
  var clientId = Math.floor(Math.random() * 2147483647) + '.' + Math.floor(Date.now() / 1000);
  document.cookie = '_ga=GA1.1.' + clientId + '; max-age=63072000; path=/; SameSite=Lax';
  document.cookie = '_ga_V31LD3M042=GS1.1.' + Math.floor(Date.now() / 1000) +
    '.1.0.' + Math.floor(Date.now() / 1000) + '.0.0.0; max-age=63072000; path=/; SameSite=Lax';
})();
