// The kiosk page: preview with the face box, liveness check, verification against a reference photo.
// States (data-state on #status): starting, no-face, hold-still, ready, checking, challenge (data-direction:
// the head turn the server asked for), error;
// on #liveness-result: passed / failed / error; on #verify-result: same / different / error.
"use strict";

const canvas = document.getElementById("preview");
const ctx = canvas.getContext("2d");
const statusEl = document.getElementById("status");
const livenessEl = document.getElementById("liveness-result");
const verifyEl = document.getElementById("verify-result");
const livenessBtn = document.getElementById("liveness");
const verifyBtn = document.getElementById("verify");
const reference = document.getElementById("reference");

const POLL_MS = 200;
const MOVE_LIMIT = 0.06;   // box centre moved more than 6% of the box width between frames: "hold still"
let lastBox = null;
let stillFrames = 0;
let checking = false;
let pkg = null;
let faceNow = "no-face";

function show(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

function drawBox(rect, colour) {
  const [l, t, r, b] = rect;
  ctx.lineWidth = Math.max(3, canvas.width / 160);
  ctx.strokeStyle = colour;
  ctx.strokeRect(l, t, r - l, b - t);
}

function faceState(faces) {
  if (!faces.length) { lastBox = null; stillFrames = 0; return "no-face"; }
  const [l, t, r, b] = faces[0].rect;
  const box = { x: (l + r) / 2, y: (t + b) / 2, w: r - l };
  const moved = lastBox ? Math.hypot(box.x - lastBox.x, box.y - lastBox.y) / Math.max(1, lastBox.w) : 1;
  lastBox = box;
  stillFrames = moved > MOVE_LIMIT ? 0 : stillFrames + 1;
  return stillFrames >= 2 ? "ready" : "hold-still";
}

const MESSAGES = {
  "no-face": "No face: please step in front of the camera",
  "hold-still": "Hold still",
  "ready": "Face found: ready",
};

async function poll() {
  try {
    const resp = await fetch("/kiosk/preview", { cache: "no-store" });
    const body = await resp.json();
    if (!resp.ok || body.code !== 1000) throw new Error(body.message || "camera unavailable");
    const img = new Image();
    img.src = body.image;
    await img.decode();
    if (canvas.width !== body.width || canvas.height !== body.height) {
      canvas.width = body.width; canvas.height = body.height;
    }
    ctx.drawImage(img, 0, 0);
    const state = faceNow = faceState(body.faces);
    for (const f of body.faces) drawBox(f.rect, state === "ready" ? "#3ddc84" : "#ffc107");
    canvas.dataset.faces = String(body.faces.length);
    canvas.dataset.box = body.faces.length ? body.faces[0].rect.join(",") : "";
    if (!checking) show(statusEl, state, MESSAGES[state]);
  } catch (err) {
    if (!checking) show(statusEl, "error", "Camera: " + err.message);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function updateVerify() {
  verifyBtn.disabled = !(pkg && reference.files.length);
}

livenessBtn.addEventListener("click", async () => {
  checking = true;
  pkg = null;
  updateVerify();
  livenessBtn.disabled = true;
  show(livenessEl, "checking", "Checking…");
  try {
    // The server draws what this session asks (camera.challenge): nothing, or a head turn to one side.
    const drawn = await (await fetch("/kiosk/challenge", { method: "POST", body: new URLSearchParams() })).json();
    const form = new URLSearchParams();
    if (drawn.code === 1000 && drawn.challenge === "turn") {
      form.append("challenge_id", drawn.challenge_id);
      statusEl.dataset.direction = drawn.direction;
      show(statusEl, "challenge", drawn.prompt + (drawn.direction === "left" ? " ←" : " →"));
    } else {
      show(statusEl, "checking", "Hold still: checking liveness…");
    }
    const resp = await fetch("/kiosk/liveness", { method: "POST", body: form });
    const body = await resp.json();
    if (body.code === 1000 && body.passed) {
      pkg = body.package;
      show(livenessEl, "passed", `Passed (score ${body.liveness_score.toFixed(2)})`);
    } else if (body.code === 1000) {
      show(livenessEl, "failed", `Failed: not a live face (score ${body.liveness_score.toFixed(2)})`);
    } else {
      show(livenessEl, "failed", "Failed: " + (body.message || "no answer"));
    }
  } catch (err) {
    show(livenessEl, "error", "Error: " + err.message);
  } finally {
    checking = false;
    show(statusEl, faceNow, MESSAGES[faceNow]);
    livenessBtn.disabled = false;
    updateVerify();
  }
});

reference.addEventListener("change", updateVerify);

verifyBtn.addEventListener("click", async () => {
  verifyBtn.disabled = true;
  show(verifyEl, "checking", "Comparing…");
  const form = new FormData();
  form.append("package", pkg);
  form.append("reference", reference.files[0]);
  try {
    const resp = await fetch("/kiosk/verify", { method: "POST", body: form });
    const body = await resp.json();
    if (body.code !== 1000) {
      show(verifyEl, "error", "Error: " + body.message);
    } else if (body.same_person) {
      show(verifyEl, "same", `Same person (score ${body.verification_score.toFixed(2)})`);
    } else {
      show(verifyEl, "different", `Not the same person (score ${body.verification_score.toFixed(2)})`);
    }
  } catch (err) {
    show(verifyEl, "error", "Error: " + err.message);
  } finally {
    pkg = null;  // a package proves one liveness check once: the next comparison needs a new check
    updateVerify();
  }
});

document.getElementById("restart").addEventListener("click", () => {
  pkg = null;
  reference.value = "";
  show(livenessEl, "none", "");
  show(verifyEl, "none", "");
  updateVerify();
});

poll();
