// Omni Channels webchat widget: plain JavaScript, no dependencies, no build step. Served by
// GET /api/webchat/{websiteToken}/widget.js behind one line of settings (OMNI_WEBCHAT). Everything it shows of a
// message is set as textContent, never as HTML; its styles live in a shadow root, away from the page's.
var script = document.currentScript;
var api = new URL("..", script && script.src ? script.src : location.href).href; // .../api/webchat/
var page = window.omniWebchatSettings || {};
var lang = (page.locale || navigator.language || "en").toLowerCase().indexOf("pt") === 0 ? "pt" : "en";
var T = {
  pt: { open: "Abrir chat", close: "Fechar chat", title: "Fale conosco", name: "Nome", email: "E-mail", start: "Iniciar conversa",
    message: "Mensagem", send: "Enviar", you: "Você", agent: "Atendente", offline: "Sem conexão, tentando de novo…",
    identity: "Este chat precisa que o site identifique você.", failed: "Não foi possível enviar. Tente de novo.",
    attach: "Anexar arquivo", tooLarge: "Arquivo grande demais (máximo 512 KB)." },
  en: { open: "Open chat", close: "Close chat", title: "Chat with us", name: "Name", email: "E-mail", start: "Start chat",
    message: "Message", send: "Send", you: "You", agent: "Agent", offline: "Offline, trying again…",
    identity: "This chat needs the site to identify you.", failed: "Could not send. Please try again.",
    attach: "Attach a file", tooLarge: "File too large (at most 512 KB)." }
}[lang];
var storeKey = "omni-webchat:" + OMNI_WEBCHAT.websiteToken;
var session = null;
try { session = JSON.parse(localStorage.getItem(storeKey) || "null"); } catch (e) { session = null; }
var shown = {};
var lastId = "";
var live = null;

var host = document.createElement("div");
host.setAttribute("data-omni-webchat", "");
var root = host.attachShadow({ mode: "open" });
var style = document.createElement("style");
style.textContent = [
  ":host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif;color:#1b1b1f}",
  "button{font:inherit;cursor:pointer;border:0;border-radius:8px;background:#1f5eff;color:#fff;padding:8px 14px}",
  "button:focus-visible,input:focus-visible,textarea:focus-visible{outline:3px solid #ffb020;outline-offset:2px}",
  ".launcher{border-radius:28px;padding:14px 18px;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
  ".panel{display:none;flex-direction:column;width:320px;height:440px;background:#fff;border-radius:12px;box-shadow:0 8px 28px rgba(0,0,0,.3);margin-bottom:12px;overflow:hidden}",
  ".panel.open{display:flex}.head{background:#1f5eff;color:#fff;padding:10px 14px;font-weight:600;display:flex;justify-content:space-between;align-items:center}",
  ".head button{background:transparent;padding:2px 8px}",
  "form{display:flex;flex-direction:column;gap:6px;padding:12px}label{font-size:12px;color:#444}",
  "input,textarea{font:inherit;border:1px solid #bbb;border-radius:6px;padding:6px 8px}",
  "ol{list-style:none;margin:0;padding:10px;flex:1;overflow-y:auto;display:flex;flex-direction:column;gap:6px}",
  "li{max-width:80%;padding:6px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}",
  "li.agent,li.welcome{background:#eef1f6;align-self:flex-start}li.visitor{background:#1f5eff;color:#fff;align-self:flex-end}",
  ".compose{display:flex;gap:6px;padding:8px;border-top:1px solid #ddd}.compose textarea{flex:1;resize:none;height:38px}",
  ".attach{cursor:pointer;font-size:20px;padding:4px}.file{position:absolute;width:1px;height:1px;opacity:0}",
  ".file:focus-visible+.attach{outline:3px solid #ffb020}li a{color:inherit;display:block}",
  ".status{font-size:12px;color:#a33;padding:0 10px}[hidden]{display:none!important}"
].join("");
root.appendChild(style);

function el(tag, attrs, text) {
  var node = document.createElement(tag);
  for (var k in attrs) node.setAttribute(k, attrs[k]);
  if (text != null) node.textContent = text;
  return node;
}

var panel = el("div", { "class": "panel", role: "dialog", "aria-label": T.title, id: "omni-webchat-panel" });
var head = el("div", { "class": "head" });
head.appendChild(el("span", {}, T.title));
var closeButton = el("button", { type: "button", "aria-label": T.close }, "×");
head.appendChild(closeButton);
panel.appendChild(head);

var form = el("form", { "aria-label": T.start });
var nameInput = el("input", { id: "omni-name", name: "name", autocomplete: "name", maxlength: "200" });
var emailInput = el("input", { id: "omni-email", name: "email", type: "email", autocomplete: "email", maxlength: "254" });
form.appendChild(el("label", { "for": "omni-name" }, T.name));
form.appendChild(nameInput);
form.appendChild(el("label", { "for": "omni-email" }, T.email));
form.appendChild(emailInput);
form.appendChild(el("button", { type: "submit" }, T.start));
panel.appendChild(form);

var thread = el("ol", { role: "log", "aria-live": "polite", "aria-label": T.title, hidden: "" });
var status = el("div", { "class": "status", role: "status" });
var compose = el("form", { "class": "compose", hidden: "" });
var input = el("textarea", { id: "omni-message", "aria-label": T.message, maxlength: "4000" });
compose.appendChild(input);
// The same limit the API keeps (AttachmentRules.MaxBytes), checked here so a visitor is told before uploading.
var maxBytes = 512 * 1024;
var fileInput = el("input", { id: "omni-file", type: "file", "class": "file", "aria-label": T.attach });
compose.appendChild(fileInput);
compose.appendChild(el("label", { "for": "omni-file", "class": "attach", title: T.attach }, "📎"));
compose.appendChild(el("button", { type: "submit" }, T.send));
panel.appendChild(thread);
panel.appendChild(status);
panel.appendChild(compose);

var launcher = el("button", { type: "button", "class": "launcher", "aria-label": T.open, "aria-expanded": "false", "aria-controls": "omni-webchat-panel" }, "💬");
root.appendChild(panel);
root.appendChild(launcher);

function setOpen(open) {
  panel.classList.toggle("open", open);
  launcher.setAttribute("aria-expanded", String(open));
  launcher.setAttribute("aria-label", open ? T.close : T.open);
  if (open) (session ? input : nameInput).focus(); else launcher.focus();
}
launcher.addEventListener("click", function () { setOpen(!panel.classList.contains("open")); });
closeButton.addEventListener("click", function () { setOpen(false); });
panel.addEventListener("keydown", function (e) { if (e.key === "Escape") setOpen(false); });

function render(message) {
  if (!message || !message.id || shown[message.id]) return;
  shown[message.id] = true;
  lastId = message.id;
  var item = el("li", { "class": message.from === "agent" ? "agent" : "visitor", "data-id": message.id,
    "aria-label": (message.from === "agent" ? T.agent : T.you) });
  if (message.text) item.appendChild(el("span", {}, message.text));
  (message.attachments || []).forEach(function (a) {
    var link = el("a", { href: "#", "class": "attachment" }, a.fileName + " (" + Math.ceil(a.size / 1024) + " KB)");
    link.addEventListener("click", function (e) { e.preventDefault(); download(a); });
    item.appendChild(link);
  });
  thread.appendChild(item);
  thread.scrollTop = thread.scrollHeight;
}

// Attachments are read with the session token in a header, never in a link, then saved from a blob.
function download(a) {
  fetch(new URL(a.url, api).href, { headers: { Authorization: "Bearer " + session.token }, mode: "cors", credentials: "omit" })
    .then(function (r) { if (!r.ok) throw new Error("http " + r.status); return r.blob(); })
    .then(function (blob) {
      var save = el("a", { href: URL.createObjectURL(blob), download: a.fileName });
      save.click();
      setTimeout(function () { URL.revokeObjectURL(save.href); }, 10000);
    }).catch(function () { status.textContent = T.failed; });
}

function call(method, path, body, token) {
  var headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  return fetch(api + path, { method: method, headers: headers, body: body ? JSON.stringify(body) : undefined, mode: "cors", credentials: "omit" })
    .then(function (r) {
      if (r.status === 401 && token) { forget(); throw new Error("session"); }
      if (!r.ok) throw new Error("http " + r.status);
      return r.status === 204 ? null : r.json();
    });
}

// The session expired (idle too long) or is gone: start a new one for the same visitor; the pending send retries on it.
function forget() {
  var was = session || {};
  session = null;
  localStorage.removeItem(storeKey);
  if (live) live.close();
  start(was.name, was.email).catch(function () { showChat(false); });
}

function showChat(chatting) {
  form.hidden = chatting;
  thread.hidden = !chatting;
  compose.hidden = !chatting;
}

function start(name, email) {
  var body = { name: name || page.name, email: email || page.email, userId: page.userId, userHash: page.userHash };
  return call("POST", OMNI_WEBCHAT.websiteToken + "/sessions", body).then(function (created) {
    session = { token: created.sessionToken, name: body.name, email: body.email };
    localStorage.setItem(storeKey, JSON.stringify(session));
    enter();
  });
}

function enter() {
  showChat(true);
  call("GET", "sessions/messages", null, session.token).then(function (page) {
    page.items.forEach(render);
    connect();
  }).catch(retryLater);
}

function retryLater() {
  if (!session) return;
  status.textContent = T.offline;
  setTimeout(function () { if (session) catchUp(); }, 3000);
}

// After a drop: fetch what was missed, then listen again; ids already shown are skipped, so nothing repeats.
function catchUp() {
  call("GET", "sessions/messages?after=" + encodeURIComponent(lastId), null, session.token).then(function (page) {
    page.items.forEach(render);
    connect();
  }).catch(retryLater);
}

function connect() {
  status.textContent = "";
  if (OMNI_WEBCHAT.realtime === "webpubsub") {
    call("POST", "sessions/negotiate", null, session.token).then(function (n) {
      var socket = new WebSocket(n.url);
      live = { close: function () { socket.onclose = null; socket.close(); } };
      socket.onmessage = function (e) { try { render(JSON.parse(e.data)); } catch (err) { /* not ours */ } };
      socket.onclose = retryLater;
    }).catch(retryLater);
    return;
  }
  var source = new EventSource(api + "sessions/events?access_token=" + encodeURIComponent(session.token) + "&after=" + encodeURIComponent(lastId));
  live = source;
  source.onmessage = function (e) { status.textContent = ""; try { render(JSON.parse(e.data)); } catch (err) { /* keep-alive */ } };
  source.onerror = function () {
    // EventSource reconnects by itself with Last-Event-ID; when it gives up (the session is gone, a 4xx), start over.
    if (source.readyState === EventSource.CLOSED) { source.close(); retryLater(); } else { status.textContent = T.offline; }
  };
}

function send(text, clientMessageId, attempt, files) {
  var body = { text: text, clientMessageId: clientMessageId, attachments: files && files.map(function (f) {
    return { fileName: f.fileName, contentType: f.contentType, contentBase64: f.contentBase64 };
  }) };
  return call("POST", "sessions/messages", body, session.token).then(function (sent) {
    render({ id: sent.messageId, from: "visitor", text: text, attachments: (files || []).map(function (f, i) {
      return { fileName: f.fileName, size: f.size, url: "/api/webchat/sessions/attachments/" + encodeURIComponent(sent.conversationId) + "/" + encodeURIComponent(sent.messageId) + "/" + i };
    }) });
    status.textContent = "";
  }).catch(function (e) {
    // The same clientMessageId on a retry: the message is stored once however often it is sent.
    if (session && attempt < 3) return new Promise(function (r) { setTimeout(r, 1000 * attempt); }).then(function () { return send(text, clientMessageId, attempt + 1, files); });
    status.textContent = T.failed;
    throw e;
  });
}

form.addEventListener("submit", function (e) {
  e.preventDefault();
  start(nameInput.value.trim(), emailInput.value.trim()).catch(function () { status.textContent = OMNI_WEBCHAT.requireIdentity ? T.identity : T.failed; });
});
compose.addEventListener("submit", function (e) {
  e.preventDefault();
  var text = input.value.trim();
  if (!text || !session) return;
  input.value = "";
  send(text, "c" + Date.now().toString(36) + Math.random().toString(36).slice(2), 1).catch(function () { input.value = text; });
});
fileInput.addEventListener("change", function () {
  var file = fileInput.files && fileInput.files[0];
  fileInput.value = "";
  if (!file || !session) return;
  if (file.size > maxBytes || file.size === 0) { status.textContent = T.tooLarge; return; }
  var reader = new FileReader();
  reader.onload = function () {
    var data = String(reader.result);
    var upload = { fileName: file.name, contentType: file.type || "application/octet-stream", contentBase64: data.slice(data.indexOf(",") + 1), size: file.size };
    send(null, "c" + Date.now().toString(36) + Math.random().toString(36).slice(2), 1, [upload]).catch(function () { /* status says so */ });
  };
  reader.readAsDataURL(file);
});
input.addEventListener("keydown", function (e) {
  if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); compose.requestSubmit(); }
});

if (OMNI_WEBCHAT.welcomeText) thread.appendChild(el("li", { "class": "welcome" }, OMNI_WEBCHAT.welcomeText));
if (OMNI_WEBCHAT.requireIdentity || page.userId) form.hidden = true;
function ready() {
  document.body.appendChild(host);
  if (session) enter();
  else if (page.userId) start().catch(function () { status.textContent = T.identity; });
  else showChat(false);
  if (OMNI_WEBCHAT.requireIdentity && !page.userId && !session) status.textContent = T.identity;
}
if (document.body) ready(); else document.addEventListener("DOMContentLoaded", ready);
