/* Patient chat: streams replies over fetch() + ReadableStream (SSE), attachments, review, retry.
   Every piece of patient or model text is inserted with textContent, never as HTML. */
(function () {
  "use strict";
  var body = document.body;
  var intakeId = body.dataset.intake;
  // The chat authenticates with this browser's session cookie (the link's token left the URL on
  // the first visit and is not in the page) plus the CSRF token.
  var csrf = body.dataset.csrf;
  var maxBytes = Number(body.dataset.maxBytes);
  var maxFiles = Number(body.dataset.maxFiles);
  var maxTotal = Number(body.dataset.maxTotal); // all files of one message, before base64
  var accept = body.dataset.accept.split(",");
  var api = "/api/v1/intakes/" + intakeId;
  var $ = function (id) { return document.getElementById(id); };
  var form = $("composer"), box = $("msg"), send = $("send"), retry = $("retry");
  var fileInput = $("file"), preview = $("preview"), errorBox = $("chat-error");
  var transcript = $("transcript"), announcer = $("announcer"), counter = $("msg-count");
  var topBar = document.querySelector(".top"), root = document.documentElement;
  var maxChars = Number(box.dataset.maxChars) || 4000;
  var files = [];
  var busy = false;
  var failed = null; // {text, files, nodes, key}: the last message that did not get an answer

  // One key per message, sent again with its retry, so the server stores the message once.
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function sizeLabel(n) {
    return n < 1048576 ? Math.max(1, Math.round(n / 1024)) + " KB" : (n / 1048576).toFixed(1) + " MB";
  }

  /* --- Layout: the newest message always shows above the composer ----------------------------- */

  // The sticky header and composer cover the top and bottom of the screen; html's scroll-padding
  // (chat.css) keeps scrollIntoView clear of them. When together they would take half the screen
  // (a small phone, large text), they join the page flow instead ("cramped") so the conversation
  // keeps the screen.
  function layout() {
    var composerHeight = form.hidden ? 0 : form.offsetHeight;
    var cramped = topBar.offsetHeight + composerHeight > window.innerHeight * 0.5;
    body.classList.toggle("cramped", cramped);
    root.style.setProperty("--top-h", cramped ? "0px" : topBar.offsetHeight + "px");
    root.style.setProperty("--composer-h", cramped ? "0px" : composerHeight + "px");
  }

  function covered() {
    var styles = getComputedStyle(root);
    return { top: parseFloat(styles.getPropertyValue("--top-h")) || 0,
             bottom: parseFloat(styles.getPropertyValue("--composer-h")) || 0 };
  }

  function scrollDown(node, align) {
    if (!node || node.hidden) return;
    var c = covered(), r = node.getBoundingClientRect(), bottom = window.innerHeight - c.bottom;
    if (align === "follow") { // a reply streaming in: follow it, unless the patient scrolled up to read
      if (r.top > bottom) return;
      align = "";
    }
    if (!align && r.top >= c.top && r.bottom <= bottom) return; // already in view
    // Taller than the free space: show its start, where reading begins.
    var block = align || (r.height > bottom - c.top ? "start" : "end");
    node.scrollIntoView({ block: block, behavior: "auto" });
  }

  var pendingLayout = false;
  function relayout() {
    if (pendingLayout) return;
    pendingLayout = true;
    requestAnimationFrame(function () { pendingLayout = false; layout(); });
  }
  if (window.ResizeObserver) {
    var ro = new ResizeObserver(relayout);
    ro.observe(form);
    ro.observe(topBar);
  }
  window.addEventListener("resize", relayout);
  layout();

  function bubble(role, text) {
    var li = document.createElement("li");
    li.className = "msg msg-" + role;
    var who = document.createElement("span");
    who.className = "who";
    who.lang = "en";
    who.textContent = role === "patient" ? "You" : role === "system" ? "Important" : "Assistant";
    var p = document.createElement("p");
    p.className = "text";
    p.textContent = text;
    li.appendChild(who);
    li.appendChild(p);
    transcript.appendChild(li);
    scrollDown(li);
    return li;
  }

  function note(li, text) {
    var s = li.querySelector(".state") || document.createElement("span");
    s.className = "state";
    s.lang = "en";
    s.textContent = text;
    li.appendChild(s);
  }

  function setBusy(on) {
    busy = on;
    send.disabled = on;
    box.readOnly = on;
    fileInput.disabled = on;
    var confirm = $("confirm");
    if (confirm) confirm.disabled = on;
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  function progress(done) {
    var label = $("progress-label"), bar = $("progress");
    bar.max = done.total_steps;
    if (done.status === "review") {
      label.textContent = "Review: step " + done.total_steps + " of " + done.total_steps;
      bar.value = done.total_steps;
    } else if (done.status === "completed" || done.status === "manual") {
      label.textContent = "Done";
      bar.value = done.total_steps;
    } else {
      label.textContent = "Step " + done.step + " of " + done.total_steps + (done.step_title ? " · " + done.step_title : "");
      bar.value = done.step;
    }
  }

  function emergency(message) {
    $("emergency-text").textContent = message;
    var banner = $("emergency");
    banner.hidden = false;
    $("emergency-strip").hidden = false; // stays in the sticky header while the patient scrolls
    window.scrollTo(0, 0);
  }

  /* --- Attachments ------------------------------------------------------------------------- */

  function typeOf(file) {
    if (file.type) return file.type.toLowerCase();
    var n = file.name.toLowerCase();
    return /\.hei[cf]$/.test(n) ? "image/heic" : "";
  }

  function renderPreview() {
    preview.textContent = "";
    files.forEach(function (f, i) {
      var li = document.createElement("li");
      if (f.type.indexOf("image/") === 0 && f.type !== "image/heic" && f.type !== "image/heif") {
        var img = document.createElement("img");
        img.alt = "";
        img.src = f.url || (f.url = URL.createObjectURL(f.file));
        li.appendChild(img);
      }
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = f.file.name + " (" + sizeLabel(f.file.size) + ")";
      li.appendChild(name);
      var rm = document.createElement("button");
      rm.type = "button";
      rm.textContent = "Remove";
      rm.setAttribute("aria-label", "Remove " + f.file.name);
      rm.addEventListener("click", function () {
        if (f.url) URL.revokeObjectURL(f.url);
        files.splice(i, 1);
        renderPreview();
        fileInput.focus();
      });
      li.appendChild(rm);
      preview.appendChild(li);
    });
  }

  fileInput.addEventListener("change", function () {
    var problems = [];
    Array.prototype.forEach.call(fileInput.files, function (file) {
      var type = typeOf(file);
      if (accept.indexOf(type) < 0 && type !== "image/jpg") {
        problems.push(file.name + " is not a photo or PDF. Please choose a JPEG, PNG, WebP, HEIC photo or a PDF.");
      } else if (file.size > maxBytes) {
        problems.push(file.name + " is " + sizeLabel(file.size) + ", over the 10 MB limit. Please choose a smaller file.");
      } else if (file.size === 0) {
        problems.push(file.name + " is empty. Please choose another file.");
      } else if (files.length >= maxFiles) {
        problems.push("You can attach up to " + maxFiles + " files per message.");
      } else if (total() + file.size > maxTotal) {
        problems.push(file.name + " does not fit in this message with the other files. Please send it in the next message.");
      } else {
        files.push({ file: file, type: type === "image/jpg" ? "image/jpeg" : type });
      }
    });
    fileInput.value = "";
    showError(problems.join(" "));
    renderPreview();
  });

  function clearFiles() {
    files.forEach(function (f) { if (f.url) URL.revokeObjectURL(f.url); });
    files = [];
    renderPreview();
  }

  function total() {
    return files.reduce(function (n, f) { return n + f.file.size; }, 0);
  }

  function readBase64(file) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(String(r.result).split(",")[1] || ""); };
      r.onerror = function () { reject(new Error("read")); };
      r.readAsDataURL(file);
    });
  }

  /* --- Sending and streaming --------------------------------------------------------------- */

  function HttpProblem(status, detail) { this.status = status; this.detail = detail; }

  async function post(path, payload, key) {
    var headers = { "X-CSRFToken": csrf, "Content-Type": "application/json", "Accept": "text/event-stream, application/json" };
    if (key) headers["Idempotency-Key"] = key;
    var res = await fetch(api + path, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(payload || {}),
      credentials: "same-origin",
      cache: "no-store"
    });
    if (!res.ok) {
      var detail = "";
      try { detail = (await res.json()).detail || ""; } catch (e) { /* not JSON */ }
      throw new HttpProblem(res.status, detail);
    }
    return res;
  }

  async function readEvents(res, onEvent) {
    var reader = res.body.getReader(), decoder = new TextDecoder(), buffer = "";
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
      var cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        var block = buffer.slice(0, cut), data = "";
        buffer = buffer.slice(cut + 2);
        block.split("\n").forEach(function (line) {
          if (line.indexOf("data:") === 0) data += line.slice(5).trim();
        });
        if (data) onEvent(JSON.parse(data));
      }
    }
  }

  async function submit(text, chosen, key) {
    showError("");
    retry.hidden = true;
    setBusy(true);
    var mine = bubble("patient", text);
    chosen.forEach(function (f) {
      var a = document.createElement("p");
      a.className = "att";
      a.textContent = "Attached: " + f.file.name + " (" + sizeLabel(f.file.size) + ")";
      mine.appendChild(a);
    });
    var reply = null, finished = null;
    try {
      var attachments = [];
      for (var i = 0; i < chosen.length; i++) {
        attachments.push({ mime_type: chosen[i].type, data_base64: await readBase64(chosen[i].file) });
      }
      var res = await post("/messages/stream", { text: text, attachments: attachments, language: document.documentElement.lang || null }, key);
      reply = bubble("model", "");
      reply.classList.add("pending");
      var textNode = reply.querySelector(".text");
      await readEvents(res, function (event) {
        if (event.type === "delta") {
          textNode.textContent += event.text;
          scrollDown(reply, "follow");
        } else if (event.type === "done") {
          finished = event;
        } else if (event.type === "error") {
          throw new HttpProblem(503, event.detail);
        }
      });
      if (!finished) throw new HttpProblem(0, "");
    } catch (err) {
      return fail(err, text, chosen, mine, reply, key);
    }
    reply.classList.remove("pending");
    if (finished.emergency) {
      reply.className = "msg msg-system";
      reply.querySelector(".who").textContent = "Important";
      emergency(finished.emergency);
    }
    reply.querySelector(".text").textContent = finished.reply;
    announcer.textContent = finished.reply;
    box.value = "";
    countChars();
    clearFiles();
    failed = null;
    progress(finished);
    body.dataset.status = finished.status;
    setBusy(false);
    scrollDown(reply);
    if (finished.status === "review") await showReview();
    // A typed "yes, that's right" at the review finishes the intake like the button does.
    if (finished.status === "completed" || finished.status === "manual") finish("");
  }

  function fail(err, text, chosen, mine, reply, key) {
    var status = err instanceof HttpProblem ? err.status : 0;
    var detail = err instanceof HttpProblem && err.detail ? err.detail : "";
    if (reply) reply.remove();
    if ((status === 413 || status === 415) && chosen.length) {
      // A file the server refused: take it off the message (so it is not sent again) and say so.
      mine.remove();
      clearFiles();
      showError((detail || "That file could not be accepted.") +
        " The file was removed from your message; your text is still in the box. You can attach a different file.");
    } else if (status >= 400 && status < 500 && status !== 409) {
      // Refused before anything was stored: take the message back so it can be fixed.
      mine.remove();
      showError(detail || "The message could not be sent. Please check it and try again.");
    } else {
      mine.classList.add("failed");
      note(mine, "Not answered yet");
      failed = { text: text, files: chosen, nodes: [mine], key: key };
      retry.hidden = false;
      showError(detail || "The connection was interrupted. Your text is still in the box. Press “Try again” to send it again.");
    }
    box.value = text; // never lose what the patient typed
    setBusy(false);
    if (!retry.hidden) retry.focus(); else box.focus();
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (busy) return;
    var text = box.value.trim();
    if (!text && !files.length) {
      showError("Please type a message or attach a file first.");
      box.focus();
      return;
    }
    if (text.length > maxChars) {
      showError(tooLong(text.length));
      box.focus();
      return;
    }
    // Sending the same text again is a retry of the unanswered message: same key.
    var key = failed && failed.text === text ? failed.key : newKey();
    if (failed) failed.nodes.forEach(function (n) { n.remove(); });
    failed = null;
    submit(text, files.slice(), key);
  });

  retry.addEventListener("click", function () {
    if (busy || !failed) return;
    var again = failed;
    again.nodes.forEach(function (n) { n.remove(); });
    failed = null;
    var text = box.value.trim() || again.text;
    submit(text, again.files, text === again.text ? again.key : newKey());
  });

  /* --- Length: never cut the patient's text silently ------------------------------------------- */

  function tooLong(n) {
    return "Your message is " + n.toLocaleString("en") + " characters; the limit is " + maxChars.toLocaleString("en") +
      ". Please shorten it by " + (n - maxChars).toLocaleString("en") + " characters, or send it in two parts.";
  }

  function countChars() {
    var n = box.value.length;
    counter.hidden = n < maxChars * 0.9;
    counter.textContent = n.toLocaleString("en") + " of " + maxChars.toLocaleString("en") + " characters";
    counter.classList.toggle("over", n > maxChars);
    if (n > maxChars) showError(tooLong(n));
    else if (errorBox.textContent.indexOf("Your message is ") === 0) showError("");
  }
  box.addEventListener("input", countChars);

  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });

  /* --- Review and finish ------------------------------------------------------------------- */

  async function showReview() {
    var section = $("review");
    try {
      var res = await fetch(body.dataset.reviewUrl, { credentials: "same-origin", cache: "no-store" });
      if (!res.ok) return;
      var doc = new DOMParser().parseFromString(await res.text(), "text/html");
      section.replaceChildren.apply(section, Array.prototype.slice.call(doc.body.childNodes));
    } catch (e) {
      return;
    }
    section.hidden = false;
    bindConfirm();
    scrollDown(section, "start");
  }

  function bindConfirm() {
    var confirm = $("confirm");
    if (!confirm || confirm.dataset.bound) return;
    confirm.dataset.bound = "1";
    confirm.addEventListener("click", async function () {
      if (busy) return;
      showError("");
      setBusy(true);
      confirm.textContent = "Saving…";
      try {
        await post("/complete");
        finish("");
      } catch (err) {
        var detail = err instanceof HttpProblem ? err.detail : "";
        if (err instanceof HttpProblem && err.status === 422) return finish(detail);
        confirm.textContent = "Looks right";
        setBusy(false);
        showError((detail || "The connection was interrupted.") + " Press “Looks right” again to retry.");
        confirm.focus();
      }
    });
  }

  function finish(message) {
    $("review").hidden = true;
    form.hidden = true;
    if (message) $("done-text").textContent = message;
    var done = $("done");
    done.hidden = false;
    layout();
    progress({ status: "completed", total_steps: Number($("progress").max) });
    body.dataset.status = "completed";
    done.focus();
    announcer.textContent = $("done-title").textContent + ". " + $("done-text").textContent;
  }

  bindConfirm();

  /* --- Kiosk ------------------------------------------------------------------------------- */

  var go = $("kiosk-go");
  if (go) {
    go.addEventListener("click", function () {
      var el = document.documentElement;
      if (el.requestFullscreen) el.requestFullscreen().catch(function () {});
      $("kiosk-start").remove();
      box.focus();
    });
    go.focus();
  }

  // On load: the newest thing on the page (the review or done panel, else the last message) in view.
  var newest = [$("done"), $("review")].filter(function (n) { return !n.hidden; })[0];
  if (newest) scrollDown(newest, "start");
  else scrollDown(transcript.lastElementChild);
})();
