// localpose WebUI: no build step, no network beyond this server. Skeletons are drawn on a
// canvas from the API's JSON, with the landmark names, edges and colours the server sends
// (/api/v1/info), so the look matches `localpose image --draw`.
"use strict";

const TEXT = {
  en: {
    tagline: "Offline pose estimation — your images never leave this machine",
    apiKey: "API key", tabImage: "Image", tabVideo: "Video", tabWebcam: "Webcam",
    people: "People", threshold: "Visibility threshold", labels: "Landmark names",
    drop: "Drop an image here or", choose: "Choose an image", dlJson: "Download JSON",
    dlCsv: "Download CSV", dlPng: "Download PNG", landmark: "Landmark", visibility: "Visibility",
    chooseVideo: "Choose a video", upload: "Upload", processing: "Processing",
    start: "Start camera", stop: "Stop", exercise: "Count reps", none: "none", reps: "Reps",
    camHint: "Browsers allow the camera only on localhost or HTTPS.",
    working: "Estimating…", found: (n, ms) => `${n} ${n === 1 ? "person" : "people"} found in ${ms} ms`,
    uploading: "Uploading…", queued: "Queued…", running: "Processing…", done: "Done",
    failed: "Failed", cancelled: "Cancelled", camOn: "Camera on", camOff: "Camera off",
    needKey: "This server needs an API key: enter it above.",
  },
  zh: {
    tagline: "离线人体姿态估计 — 图像不会离开本机",
    apiKey: "API 密钥", tabImage: "图片", tabVideo: "视频", tabWebcam: "摄像头",
    people: "人数", threshold: "可见度阈值", labels: "关键点名称",
    drop: "将图片拖到这里，或", choose: "选择图片", dlJson: "下载 JSON",
    dlCsv: "下载 CSV", dlPng: "下载 PNG", landmark: "关键点", visibility: "可见度",
    chooseVideo: "选择视频", upload: "上传", processing: "处理",
    start: "打开摄像头", stop: "停止", exercise: "计数动作", none: "无", reps: "次数",
    camHint: "浏览器只允许在 localhost 或 HTTPS 下使用摄像头。",
    working: "正在估计…", found: (n, ms) => `找到 ${n} 人，用时 ${ms} 毫秒`,
    uploading: "正在上传…", queued: "排队中…", running: "处理中…", done: "完成",
    failed: "失败", cancelled: "已取消", camOn: "摄像头已打开", camOff: "摄像头已关闭",
    needKey: "此服务器需要 API 密钥：请在上方输入。",
  },
};

const state = {
  lang: localStorage.getItem("localpose.lang") || (navigator.language.startsWith("zh") ? "zh" : "en"),
  info: null, image: null, result: null, camera: null,
};
const $ = (id) => document.getElementById(id);
const t = (key) => TEXT[state.lang][key];

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = state.lang === "zh" ? "English" : "中文";
}

function headers() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

async function apiError(response) {
  try {
    const body = await response.json();
    if (response.status === 401) $("key-box").hidden = false;
    return `${response.status} ${body.error.code}: ${body.error.message}`;
  } catch (_) {
    return `${response.status} ${response.statusText}`;
  }
}

function setStatus(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle("error", isError);
}

// --- drawing (same sizes and colours as localpose.draw) ----------------------------------
function drawSkeletons(ctx, doc, options) {
  const info = state.info;
  const [w, h] = [doc.image.width, doc.image.height];
  const scale = Math.max(w, h) / 640;
  const thickness = Math.max(1, Math.round(2 * scale));
  const radius = Math.max(2, Math.round(3 * scale));
  const tracked = doc.people.some((p) => p.track_id !== null);
  const many = doc.people.length > 1 || tracked;
  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
  doc.people.forEach((person, i) => {
    const key = person.track_id ?? i;
    const bone = many ? info.style.person_colors[key % info.style.person_colors.length] : info.style.bone;
    const lm = person.landmarks;
    const shown = lm.map((p) => p.visibility >= options.threshold);
    ctx.lineWidth = thickness;
    ctx.lineCap = "round";
    ctx.strokeStyle = rgb(bone);
    for (const [a, b] of info.schema.edges) {
      if (!shown[a] || !shown[b]) continue;
      ctx.beginPath();
      ctx.moveTo(lm[a].x, lm[a].y);
      ctx.lineTo(lm[b].x, lm[b].y);
      ctx.stroke();
    }
    ctx.fillStyle = rgb(info.style.joint);
    lm.forEach((p, k) => {
      if (!shown[k]) return;
      ctx.beginPath();
      ctx.arc(p.x, p.y, radius, 0, 2 * Math.PI);
      ctx.fill();
    });
    if (options.labels) {
      ctx.font = `${Math.max(10, Math.round(6 * scale))}px sans-serif`;
      ctx.fillStyle = "#fff";
      lm.forEach((p, k) => { if (shown[k]) ctx.fillText(p.name, p.x + radius + 2, p.y - radius); });
    }
    if (person.track_id !== null) {
      ctx.font = `bold ${Math.max(12, Math.round(9 * scale))}px sans-serif`;
      ctx.fillStyle = rgb(bone);
      ctx.fillText(`#${person.track_id}`, person.bbox[0], Math.max(12, person.bbox[1] - 4));
    }
  });
}

// --- image tab ---------------------------------------------------------------------------
function imageOptions() {
  return { threshold: parseFloat($("threshold").value), labels: $("show-labels").checked };
}

function renderImage() {
  if (!state.image || !state.result) return;
  const canvas = $("image-canvas");
  canvas.width = state.image.width;
  canvas.height = state.image.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(state.image, 0, 0);
  drawSkeletons(ctx, state.result, imageOptions());
  renderTable();
}

function renderTable() {
  const body = $("landmarks").querySelector("tbody");
  const threshold = imageOptions().threshold;
  const rows = [];
  state.result.people.forEach((person, i) => person.landmarks.forEach((p) => {
    const cls = p.visibility < threshold ? ' class="hidden-point"' : "";
    rows.push(`<tr${cls}><td>${i}</td><td>${p.name}</td><td>${p.x.toFixed(1)}</td><td>${p.y.toFixed(1)}</td>` +
      `<td>${p.z.toFixed(3)}</td><td>${p.visibility.toFixed(2)}</td></tr>`);
  }));
  body.innerHTML = rows.join("");
}

async function estimateImage(file) {
  state.file = file;
  setStatus("image-status", t("working"));
  const started = performance.now();
  const query = `num_poses=${$("num-poses").value}`;
  const response = await fetch(`/api/v1/pose?${query}`, { method: "POST", body: file, headers: headers() });
  if (!response.ok) {
    setStatus("image-status", await apiError(response), true);
    return;
  }
  state.result = await response.json();
  state.image = await createImageBitmap(file, { imageOrientation: "from-image" });
  $("image-result").hidden = false;
  renderImage();
  const ms = Math.round(performance.now() - started);
  setStatus("image-status", t("found")(state.result.people.length, ms));
  $("image-canvas").dataset.people = String(state.result.people.length);
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function baseName() {
  return (state.file && state.file.name ? state.file.name.replace(/\.[^.]+$/, "") : "pose");
}

async function downloadCsv() {
  const response = await fetch(`/api/v1/pose?format=csv&num_poses=${$("num-poses").value}`,
    { method: "POST", body: state.file, headers: headers() });
  if (response.ok) download(`${baseName()}.csv`, await response.blob());
  else setStatus("image-status", await apiError(response), true);
}

// --- video tab ---------------------------------------------------------------------------
function uploadVideo(file) {
  $("video-result").hidden = true;
  $("upload-progress").value = 0;
  $("job-progress").value = 0;
  setStatus("video-status", t("uploading"));
  const xhr = new XMLHttpRequest();
  const query = `num_poses=${$("video-num-poses").value}&filename=${encodeURIComponent(file.name)}`;
  xhr.open("POST", `/api/v1/videos?${query}`);
  for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
  xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) $("upload-progress").value = e.loaded / e.total; };
  xhr.onload = () => {
    if (xhr.status !== 202) {
      let message = `${xhr.status}`;
      try { const b = JSON.parse(xhr.responseText); message += ` ${b.error.code}: ${b.error.message}`; } catch (_) {}
      setStatus("video-status", message, true);
      return;
    }
    $("upload-progress").value = 1;
    pollJob(JSON.parse(xhr.responseText).id);
  };
  xhr.onerror = () => setStatus("video-status", "network error", true);
  xhr.send(file);
}

async function pollJob(id) {
  const response = await fetch(`/api/v1/videos/${id}`, { headers: headers() });
  if (!response.ok) { setStatus("video-status", await apiError(response), true); return; }
  const job = await response.json();
  const p = job.progress;
  if (p && p.fraction !== null) {
    $("job-progress").value = p.stage === "render" ? 0.9 + 0.1 * p.fraction : 0.9 * p.fraction;
  }
  const eta = p && p.eta_s !== null && job.state === "running" ? ` ${p.fps} fps, ETA ${p.eta_s} s` : "";
  setStatus("video-status", `${t(job.state) || job.state}${eta}`, job.state === "failed");
  if (job.state === "failed") { setStatus("video-status", `${t("failed")}: ${job.error.message}`, true); return; }
  if (job.state !== "done") { setTimeout(() => pollJob(id), 500); return; }
  $("job-progress").value = 1;
  showVideoResult(job);
}

async function showVideoResult(job) {
  const links = $("video-downloads");
  links.innerHTML = "";
  for (const [kind, url] of Object.entries(job.files)) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = kind.toUpperCase();
    button.onclick = async () => {
      const r = await fetch(url, { headers: headers() });
      const name = (r.headers.get("content-disposition") || "").match(/filename="?([^";]+)/);
      download(name ? name[1] : `result.${kind}`, await r.blob());
    };
    links.appendChild(button);
  }
  if (job.files.mp4) {
    const r = await fetch(job.files.mp4, { headers: headers() });
    $("video-player").src = URL.createObjectURL(await r.blob());
  }
  $("video-result").hidden = false;
}

// --- webcam tab --------------------------------------------------------------------------
async function startCamera() {
  const video = $("cam-video");
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream;
    await video.play();
  } catch (e) {
    setStatus("cam-status", `${e.name}: ${e.message}`, true);
    return;
  }
  const protocol = location.protocol === "https:" ? "wss" : "ws";
  const exercise = $("exercise").value;
  const key = $("api-key").value.trim();
  const query = new URLSearchParams({ num_poses: "1" });
  if (exercise) query.set("exercise", exercise);
  const socket = new WebSocket(`${protocol}://${location.host}/api/v1/live?${query}`);
  socket.binaryType = "arraybuffer";
  const grab = document.createElement("canvas");
  const cam = { socket, stream: video.srcObject, frames: 0, since: performance.now(), busy: false };
  state.camera = cam;
  $("reps-box").hidden = !exercise;
  const send = () => {
    if (state.camera !== cam || socket.readyState !== WebSocket.OPEN || cam.busy) return;
    grab.width = video.videoWidth; grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    cam.busy = true;
    grab.toBlob((blob) => blob.arrayBuffer().then((b) => socket.send(b)), "image/jpeg", 0.8);
  };
  socket.onopen = () => {
    if (key) socket.send(JSON.stringify({ api_key: key }));  // never in the URL
    setStatus("cam-status", t("camOn")); send();
  };
  socket.onmessage = (event) => {
    cam.busy = false;
    const doc = JSON.parse(event.data);
    if (doc.error) { setStatus("cam-status", `${doc.error.code}: ${doc.error.message}`, true); send(); return; }
    const canvas = $("cam-canvas");
    canvas.width = grab.width; canvas.height = grab.height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(grab, 0, 0);
    drawSkeletons(ctx, doc, { threshold: 0.5, labels: false });
    cam.frames += 1;
    const seconds = (performance.now() - cam.since) / 1000;
    if (seconds > 0) $("fps").textContent = (cam.frames / seconds).toFixed(1);
    canvas.dataset.frames = String(cam.frames);
    canvas.dataset.people = String(doc.people.length);
    if (doc.reps) $("reps").textContent = String(doc.reps.reps);
    requestAnimationFrame(send);
  };
  socket.onclose = (e) => { if (state.camera === cam && e.code !== 1000) setStatus("cam-status", e.reason || t("camOff"), true); };
  $("cam-start").disabled = true;
  $("cam-stop").disabled = false;
}

function stopCamera() {
  const cam = state.camera;
  state.camera = null;
  if (cam) {
    cam.socket.close(1000);
    cam.stream.getTracks().forEach((track) => track.stop());
  }
  $("cam-start").disabled = false;
  $("cam-stop").disabled = true;
  setStatus("cam-status", t("camOff"));
}

// --- wiring ------------------------------------------------------------------------------
async function loadInfo() {
  const response = await fetch("/api/v1/info", { headers: headers() });
  if (response.status === 401) { $("key-box").hidden = false; setStatus("image-status", t("needKey"), true); return; }
  state.info = await response.json();
  $("version").textContent = `localpose ${state.info.version} · ${state.info.model.name}`;
  for (const name of state.info.exercises) {
    const option = document.createElement("option");
    option.value = name; option.textContent = name;
    $("exercise").appendChild(option);
  }
}

function selectTab(name) {
  for (const button of document.querySelectorAll("[data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${name}`;
  if (name !== "webcam" && state.camera) stopCamera();
}

function wire() {
  $("lang").onclick = () => {
    state.lang = state.lang === "en" ? "zh" : "en";
    localStorage.setItem("localpose.lang", state.lang);
    applyLanguage();
  };
  for (const button of document.querySelectorAll("[data-tab]")) button.onclick = () => selectTab(button.dataset.tab);
  $("api-key").onchange = () => { if (!state.info) loadInfo(); };
  $("image-file").onchange = (e) => { if (e.target.files[0]) estimateImage(e.target.files[0]); };
  const drop = $("drop");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) estimateImage(e.dataTransfer.files[0]);
  };
  $("threshold").oninput = () => { $("threshold-value").textContent = parseFloat($("threshold").value).toFixed(2); renderImage(); };
  $("show-labels").onchange = renderImage;
  $("num-poses").onchange = () => { if (state.file) estimateImage(state.file); };
  $("dl-json").onclick = () => download(`${baseName()}.json`,
    new Blob([JSON.stringify(state.result, null, 1)], { type: "application/json" }));
  $("dl-csv").onclick = downloadCsv;
  $("dl-png").onclick = () => $("image-canvas").toBlob((b) => download(`${baseName()}.pose.png`, b), "image/png");
  $("video-file").onchange = (e) => { if (e.target.files[0]) uploadVideo(e.target.files[0]); };
  $("cam-start").onclick = startCamera;
  $("cam-stop").onclick = stopCamera;
}

applyLanguage();
wire();
loadInfo();
