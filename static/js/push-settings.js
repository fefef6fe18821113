// Settings, "How should we remind you?": turn notifications on or off on this phone and
// send a test. Shown only where the browser can do web push (on an iPhone: only in the
// app added to the home screen). The service worker is the PWA's (/sw.js, scope /c/);
// it shows the notification ({title, body, url}) and opens the url on a tap.
(function () {
  "use strict";

  var box = document.querySelector("[data-push]");
  if (!box) { return; }
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  var status = document.querySelector("[data-push-status]");
  var onButton = box.querySelector("[data-push-on]");
  var offButton = box.querySelector("[data-push-off]");
  var testButton = box.querySelector("[data-push-test]");
  if (!supported) { return; }
  box.hidden = false;
  var note = document.querySelector("[data-push-unsupported]");
  if (note) { note.hidden = true; }

  function say(text) { if (status) { status.textContent = text; } }

  function csrf() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) { throw new Error(data.error || "Something went wrong. Try again."); }
        return data;
      });
    });
  }

  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = window.atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function registration() {
    return navigator.serviceWorker.getRegistration("/c/").then(function (found) {
      return found || navigator.serviceWorker.register("/sw.js", { scope: "/c/" });
    }).then(function () { return navigator.serviceWorker.ready; });
  }

  // The buttons' own display rule beats the hidden attribute: set both.
  function toggle(button, visible) {
    button.hidden = !visible;
    button.style.display = visible ? "" : "none";
  }

  function show(subscribed) {
    toggle(onButton, !subscribed);
    toggle(offButton, subscribed);
    toggle(testButton, subscribed);
  }

  function turnOn() {
    onButton.disabled = true;
    say("Asking your phone\u2026");
    Notification.requestPermission().then(function (answer) {
      if (answer !== "granted") {
        throw new Error("Your phone said no to notifications. You can allow them in the phone's settings for this app.");
      }
      return registration();
    }).then(function (reg) {
      return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(box.getAttribute("data-key")) });
    }).then(function (subscription) {
      return post(box.getAttribute("data-subscribe"), subscription.toJSON());
    }).then(function () {
      show(true);
      var radio = document.getElementById("channel-push");
      if (radio) { radio.checked = true; }
      say("Notifications are on. We'll remind you with them from now on.");
    }).catch(function (error) {
      say(error.message || "Couldn't turn notifications on here.");
    }).then(function () { onButton.disabled = false; });
  }

  function turnOff() {
    offButton.disabled = true;
    registration().then(function (reg) { return reg.pushManager.getSubscription(); }).then(function (subscription) {
      if (!subscription) { return null; }
      var endpoint = subscription.endpoint;
      return subscription.unsubscribe().then(function () {
        return post(box.getAttribute("data-unsubscribe"), { endpoint: endpoint });
      });
    }).then(function (data) {
      show(false);
      if (data && data.channel === "email") {
        var radio = document.getElementById("channel-email");
        if (radio) { radio.checked = true; }
      }
      say("Notifications are off on this phone.");
    }).catch(function (error) {
      say(error.message || "Couldn't turn notifications off here.");
    }).then(function () { offButton.disabled = false; });
  }

  function test() {
    testButton.disabled = true;
    post(box.getAttribute("data-test"), {}).then(function () {
      say("Sent. It should show on your phone in a moment.");
    }).catch(function (error) { say(error.message); }).then(function () { testButton.disabled = false; });
  }

  onButton.addEventListener("click", turnOn);
  offButton.addEventListener("click", turnOff);
  testButton.addEventListener("click", test);

  // This phone already subscribed: show "off" and "test", and keep the server's copy
  // fresh (a new login session, keys the browser renewed).
  navigator.serviceWorker.getRegistration("/c/").then(function (reg) {
    return reg ? reg.pushManager.getSubscription() : null;
  }).then(function (subscription) {
    show(Boolean(subscription));
    if (subscription && box.getAttribute("data-chosen") === "push") {
      post(box.getAttribute("data-subscribe"), subscription.toJSON()).catch(function () {});
    }
  }).catch(function () { show(false); });
})();
