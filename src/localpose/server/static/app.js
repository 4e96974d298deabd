// localpose WebUI: no build step, no network beyond this server. Skeletons are drawn on a
// canvas from the API's JSON, with the landmark names, edges and colours the server sends
// (/api/v1/info), so the look matches `localpose image --draw`.
"use strict";

const PARTS = {
  en: { left: "left", right: "right", ankle: "ankle", knee: "knee", hip: "hip", shoulder: "shoulder",
    elbow: "elbow", wrist: "wrist", trunk: "trunk", pelvis: "pelvis", shoulders: "shoulders", thigh: "thigh",
    shank: "shank", foot: "foot", arm: "upper arm", forearm: "forearm" },
  zh: { left: "左", right: "右", ankle: "踝", knee: "膝", hip: "髋", shoulder: "肩", elbow: "肘", wrist: "腕",
    trunk: "躯干", pelvis: "骨盆", shoulders: "双肩", thigh: "大腿", shank: "小腿", foot: "脚", arm: "上臂",
    forearm: "前臂", nose: "鼻子", eye: "眼", inner: "内侧", outer: "外侧", ear: "耳", mouth: "嘴角", pinky: "小指",
    index: "食指", thumb: "拇指", heel: "脚跟", foot_index: "脚尖" },
};

const TEXT = {
  en: {
    tagline: "Offline pose estimation — your images never leave this machine",
    apiKey: "API key", model: "Model", tabsLabel: "Modes", tabImage: "Image", tabVideo: "Video",
    tabWebcam: "Webcam", tabCompare: "Compare",
    people: "People", threshold: "Visibility threshold", labels: "Landmark names",
    drop: "Drop images here, paste one (Ctrl+V), or", choose: "Choose images", gallery: "Images",
    dlJson: "Download JSON", dlCsv: "Download CSV", dlPng: "Download PNG", landmark: "Landmark",
    visibility: "Visibility", peopleFound: "People", anglesTitle: "Joint angles", joint: "Joint",
    angle2d: "Image (°)", angle3d: "3D (°)", landmarksTitle: "Landmarks",
    chooseVideo: "Choose a video", upload: "Upload", processing: "Processing", cancel: "Cancel",
    smoothing: "Smoothing", smoothButterworth: "Butterworth", smoothGaussian: "Gaussian", smoothNone: "none",
    countReps: "Count reps", outputs: "Outputs", annotatedVideo: "Annotated video",
    repsTitle: "Repetitions", repKind: "Kind", repTime: "Time (s)", repDown: "Down (s)", repUp: "Up (s)",
    repPeak: "Peak (°)", repRom: "Range (°)", repFlags: "Form",
    curvesTitle: "Joint angles over time", dlChart: "Download chart PNG",
    start: "Start camera", stop: "Stop", none: "none", reps: "Reps", fps: "fps",
    camHint: "Browsers allow the camera only on localhost or HTTPS.",
    camPlaceholder: "The camera is off. Press “Start camera” to see the live skeleton.",
    compareHint: "Two photos or two videos: how closely the second pose (or motion) matches the first, from 0 to 100.",
    chooseReference: "Reference", chooseOther: "Compared", compare: "Compare", score: "Score",
    worstJoints: "Joints that differ most", pointsLost: "Points lost", apiDocs: "API docs",
    working: "Estimating…", found: (n, ms) => `${n} ${n === 1 ? "person" : "people"} found in ${ms} ms`,
    moreSeen: (n) => ` (${n} more seen: raise People)`,
    galleryDone: (ok, bad) => `${ok} image(s) done${bad ? `, ${bad} failed` : ""}`,
    uploading: "Uploading…", queued: "Queued…", running: "Processing…", done: "Done",
    failed: "Failed", cancelled: "Cancelled", camOn: "Camera on", camOff: "Camera off",
    needKey: "This server needs an API key: enter it above.",
    stageEstimate: (done, total, fps, eta) =>
      `Estimating poses: frame ${done} of ${total}, ${fps} fps, about ${eta} s left`,
    stageStart: "Starting…", stageRender: "Drawing the annotated video…",
    videoDone: (frames, tracks, s) => `Done: ${frames} frames, ${tracks} track(s) in ${s} s`,
    sumFile: "File", sumFrames: "Frames", sumTracks: "Tracks", sumTime: "Processing time",
    sumDuration: "Video length", seconds: (s) => `${s} s`, none2: "none",
    repsCount: (n, partial, signal) => `${n} rep(s), ${partial} partial (signal: ${signal})`,
    kind_full: "full", kind_shallow: "too shallow", kind_lost: "lost", kind_unfinished: "unfinished",
    kind_too_long: "too long", noFlags: "good",
    canvasImage: (name, n) => `${name}: ${n} ${n === 1 ? "person" : "people"} with skeletons drawn`,
    canvasLive: (n) => `Live camera picture with ${n} skeleton(s)`,
    canvasCompare: (name) => `${name} with its skeleton`,
    chartLabel: (parts) => `Joint angles over time: ${parts}`,
    chartRange: (name, lo, hi) => `${name} ${lo}–${hi}°`,
    personButton: (i, id, score) => `#${id ?? i} · ${score}`,
    personLabel: (i, id, score, box) => `Person ${id ?? i}, score ${score}, box ${box}`,
    selectedPerson: (id) => `Showing person ${id}; press again to show everyone`,
    repFeedback: (n, kind, flags) => `Rep ${n}: ${kind}${flags ? ` — ${flags}` : ""}`,
    compareWorking: "Comparing…", compareVideos: "Processing both videos…",
    compareMixed: "Choose two photos or two videos.",
    mirrored: "mirrored", tempo: (r) => `tempo ${r}× the reference`,
    networkError: "Network error: is the server still running?",
    err_unsupported_media_type: "Not a supported image (JPEG, PNG, WebP or BMP).",
    err_invalid_image: "The image could not be read (damaged or not an image).",
    err_image_too_large: "The file is too large for this server's limits.",
    err_invalid_video: "The video could not be read (damaged, or not a video).",
    err_invalid_parameter: "An option has a value the server does not accept.",
    err_invalid_option: "An option has a value the server does not accept.",
    err_invalid_input: "The request could not be used.",
    err_busy: "The server is busy: try again in a moment.",
    err_timeout: "The server took too long: try a smaller file.",
    err_unauthorized: "This server needs an API key: enter it above.",
    err_not_found: "Not found (the result may have expired).",
    err_storage_full: "The server's video storage is full: try again later.",
    err_missing_file: "No file was sent.", err_missing_image: "No image was sent.",
    err_missing_video: "No video was sent.", err_model_unavailable: "The model is not available on the server.",
    err_internal_error: "The server hit an internal error.",
    err_camera: "The camera could not be opened (allowed only on localhost or HTTPS, and not in use elsewhere).",
    err_socket: "The live connection closed.",
    err_generic: (code) => `Error (${code}).`,
  },
  zh: {
    tagline: "离线人体姿态估计 — 图像不会离开本机",
    apiKey: "API 密钥", model: "模型", tabsLabel: "模式", tabImage: "图片", tabVideo: "视频",
    tabWebcam: "摄像头", tabCompare: "对比",
    people: "人数", threshold: "可见度阈值", labels: "关键点名称",
    drop: "将图片拖到这里、粘贴（Ctrl+V），或", choose: "选择图片", gallery: "图片",
    dlJson: "下载 JSON", dlCsv: "下载 CSV", dlPng: "下载 PNG", landmark: "关键点", visibility: "可见度",
    peopleFound: "人物", anglesTitle: "关节角度", joint: "关节", angle2d: "图像 (°)", angle3d: "三维 (°)",
    landmarksTitle: "关键点",
    chooseVideo: "选择视频", upload: "上传", processing: "处理", cancel: "取消",
    smoothing: "平滑", smoothButterworth: "巴特沃斯", smoothGaussian: "高斯", smoothNone: "无",
    countReps: "计数动作", outputs: "输出文件", annotatedVideo: "带骨架的视频",
    repsTitle: "动作次数", repKind: "类型", repTime: "时间 (秒)", repDown: "下降 (秒)", repUp: "回起 (秒)",
    repPeak: "峰值 (°)", repRom: "幅度 (°)", repFlags: "姿势",
    curvesTitle: "关节角度随时间变化", dlChart: "下载曲线图 PNG",
    start: "打开摄像头", stop: "停止", none: "无", reps: "次数", fps: "帧/秒",
    camHint: "浏览器只允许在 localhost 或 HTTPS 下使用摄像头。",
    camPlaceholder: "摄像头已关闭。点击“打开摄像头”查看实时骨架。",
    compareHint: "两张照片或两段视频：第二个姿势（或动作）与第一个的相似度，0 到 100 分。",
    chooseReference: "参考", chooseOther: "对比对象", compare: "对比", score: "得分",
    worstJoints: "差异最大的关节", pointsLost: "扣分", apiDocs: "API 文档",
    working: "正在估计…", found: (n, ms) => `找到 ${n} 人，用时 ${ms} 毫秒`,
    moreSeen: (n) => `（另有 ${n} 人：请增大人数）`,
    galleryDone: (ok, bad) => `已完成 ${ok} 张图片${bad ? `，${bad} 张失败` : ""}`,
    uploading: "正在上传…", queued: "排队中…", running: "处理中…", done: "完成",
    failed: "失败", cancelled: "已取消", camOn: "摄像头已打开", camOff: "摄像头已关闭",
    needKey: "此服务器需要 API 密钥：请在上方输入。",
    stageEstimate: (done, total, fps, eta) => `正在估计姿态：第 ${done} / ${total} 帧，${fps} 帧/秒，约剩 ${eta} 秒`,
    stageStart: "正在开始…", stageRender: "正在绘制带骨架的视频…",
    videoDone: (frames, tracks, s) => `完成：${frames} 帧，${tracks} 条轨迹，用时 ${s} 秒`,
    sumFile: "文件", sumFrames: "帧数", sumTracks: "轨迹", sumTime: "处理时间", sumDuration: "视频时长",
    seconds: (s) => `${s} 秒`, none2: "无",
    repsCount: (n, partial, signal) => `${n} 次，${partial} 次不完整（信号：${signal}）`,
    kind_full: "完整", kind_shallow: "幅度不足", kind_lost: "中断", kind_unfinished: "未完成",
    kind_too_long: "过慢", noFlags: "良好",
    canvasImage: (name, n) => `${name}：已绘制 ${n} 人的骨架`,
    canvasLive: (n) => `摄像头实时画面，${n} 个骨架`,
    canvasCompare: (name) => `${name} 及其骨架`,
    chartLabel: (parts) => `关节角度随时间变化：${parts}`,
    chartRange: (name, lo, hi) => `${name} ${lo}–${hi}°`,
    personButton: (i, id, score) => `#${id ?? i} · ${score}`,
    personLabel: (i, id, score, box) => `第 ${id ?? i} 人，得分 ${score}，框 ${box}`,
    selectedPerson: (id) => `只显示第 ${id} 人；再点一次显示所有人`,
    repFeedback: (n, kind, flags) => `第 ${n} 次：${kind}${flags ? ` — ${flags}` : ""}`,
    compareWorking: "正在对比…", compareVideos: "正在处理两段视频…",
    compareMixed: "请选择两张照片或两段视频。",
    mirrored: "镜像", tempo: (r) => `节奏为参考的 ${r} 倍`,
    networkError: "网络错误：服务器是否仍在运行？",
    err_unsupported_media_type: "不是支持的图片格式（JPEG、PNG、WebP 或 BMP）。",
    err_invalid_image: "无法读取图片（文件损坏或不是图片）。",
    err_image_too_large: "文件超出此服务器的大小限制。",
    err_invalid_video: "无法读取视频（文件损坏或不是视频）。",
    err_invalid_parameter: "某个选项的值不被服务器接受。",
    err_invalid_option: "某个选项的值不被服务器接受。",
    err_invalid_input: "无法处理此请求。",
    err_busy: "服务器繁忙，请稍后再试。",
    err_timeout: "服务器处理超时，请换一个较小的文件。",
    err_unauthorized: "此服务器需要 API 密钥：请在上方输入。",
    err_not_found: "未找到（结果可能已过期）。",
    err_storage_full: "服务器的视频存储已满，请稍后再试。",
    err_missing_file: "没有发送文件。", err_missing_image: "没有发送图片。", err_missing_video: "没有发送视频。",
    err_model_unavailable: "服务器上的模型不可用。",
    err_internal_error: "服务器内部错误。",
    err_camera: "无法打开摄像头（仅允许在 localhost 或 HTTPS 下使用，且不能被其他程序占用）。",
    err_socket: "实时连接已关闭。",
    err_generic: (code) => `错误（${code}）。`,
  },
};

const EXERCISE_NAMES = {
  en: { squat: "squat", pushup: "push-up", lunge: "lunge", jumping_jack: "jumping jack", situp: "sit-up", curl: "biceps curl" },
  zh: { squat: "深蹲", pushup: "俯卧撑", lunge: "弓步蹲", jumping_jack: "开合跳", situp: "仰卧起坐", curl: "弯举" },
};

const SIGNALS_ZH = { squat: "双膝屈曲角（三维）", pushup: "双肘屈曲角（二维，侧面）", lunge: "前膝屈曲角（三维）",
  jumping_jack: "手臂上举角（二维，正面）", situp: "躯干抬起角（三维）", curl: "弯曲较大一侧的肘屈曲角（三维）" };

const FLAGS = {
  en: { shallow: "not deep enough", forward_lean: "leaning forward", knees_caving: "knees caving in",
    knees_past_toes: "knees past the toes", rushed: "too fast", hip_sag: "hips sagging", hip_pike: "hips too high",
    elbow_flare: "elbows flared", arms_not_overhead: "arms not overhead", legs_not_spread: "feet not apart",
    short_range: "not high enough", incomplete_curl: "curl not complete", elbow_drift: "elbow drifting",
    torso_swing: "swinging the torso" },
  zh: { shallow: "深度不够", forward_lean: "身体前倾", knees_caving: "膝盖内扣", knees_past_toes: "膝盖超过脚尖",
    rushed: "太快", hip_sag: "塌腰", hip_pike: "臀部过高", elbow_flare: "手肘外展", arms_not_overhead: "手臂未举过头",
    legs_not_spread: "双脚未分开", short_range: "起身不够高", incomplete_curl: "弯举不完整", elbow_drift: "手肘前后移动",
    torso_swing: "躯干摆动" },
};

const OUTPUT_KINDS = ["mp4", "jsonl", "csv", "angles", "coco", "openpose", "raw"];
const DEFAULT_OUTPUTS = new Set(["mp4", "jsonl", "csv", "angles"]);
const CURVE_DEFAULT = ["left_knee", "right_knee", "left_hip", "right_hip"];
const CURVE_COLORS = ["#c62828", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e",
  "#283593", "#558b2f", "#00695c", "#5d4037"];

const state = {
  lang: localStorage.getItem("localpose.lang") || (navigator.language.startsWith("zh") ? "zh" : "en"),
  info: null, camera: null,
  images: { seq: 0, entries: [], current: -1, selected: null },
  video: { seq: 0, xhr: null, jobId: null, file: null, job: null, reps: null, curves: null, shown: new Set(CURVE_DEFAULT) },
  compare: { reference: null, other: null, seq: 0 },
};
window.localpose = { state };  // for the browser tests and curious users

const $ = (id) => document.getElementById(id);
function t(key, ...args) {
  const value = TEXT[state.lang][key] ?? TEXT.en[key];
  if (value === undefined) return key;
  return typeof value === "function" ? value(...args) : value;
}
const exerciseName = (name) => EXERCISE_NAMES[state.lang][name] ?? name.replace(/_/g, " ");
const flagName = (flag) => FLAGS[state.lang][flag] ?? flag.replace(/_/g, " ");
// Joint, segment and landmark names in the page's language ("left_foot_index": "left foot index", "左脚尖").
function angleName(name) {
  if (state.lang !== "zh") return name.replace(/_/g, " ");
  const zh = PARTS.zh;
  const words = name.replace("foot_index", "foot~index").split("_").map((w) => w.replace("~", "_"));
  if (words[0] === "mouth") words.reverse();  // mouth_left: the left corner of the mouth
  return words.map((w) => zh[w] ?? w).join("");
}

function applyLanguage() {
  document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  const other = state.lang === "zh" ? "en" : "zh";
  $("lang").textContent = other === "zh" ? "中文" : "English";
  $("lang").lang = other === "zh" ? "zh-CN" : "en";
  fillExercises();
  fillOutputs();
  rerender();
}

function rerender() {
  if (state.images.current >= 0) showEntry(state.images.current);
  renderGallery();
  if (state.video.job) showVideoResult(state.video.job, false);
  if (state.compare.result) showCompare(state.compare.result);
}

// --- requests ----------------------------------------------------------------------------
function headers() {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key } : {};
}

function modelQuery(query) {
  const model = $("model").value;
  if (!$("model-box").hidden && model) query.set("model", model);
  return query;
}

// Server and browser errors become {code, detail}; messages are shown in the page's language.
async function apiError(response) {
  if (response.status === 401) $("key-box").hidden = false;
  try {
    const body = await response.json();
    return { code: body.error.code, detail: body.error.message };
  } catch (_) {
    return { code: `http_${response.status}`, detail: response.statusText };
  }
}

// Paths and errno details from the server side mean nothing to a user: keep the file's name only.
function sanitize(detail) {
  return String(detail || "").replace(/\[Errno \d+\]\s*/g, "").replace(/(?:[A-Za-z]:)?(?:[\\/][^\\/\s:'"]+)+[\\/]([^\\/\s:'"]+)/g, "$1");
}

function errorText(error) {
  const known = TEXT.en[`err_${error.code}`] !== undefined;
  return known ? t(`err_${error.code}`) : t("err_generic", error.code);
}

function setStatus(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle("error", isError);
  $(id).dataset.error = isError ? "true" : "";
}

function showError(id, error) {
  setStatus(id, errorText(error), true);
  if (error.detail && !String(error.code).startsWith("http_")) $(id).title = sanitize(error.detail);
}

// --- drawing (same sizes and colours as localpose.draw) ----------------------------------
const rgb = (c, alpha = 1) => `rgba(${c[0]},${c[1]},${c[2]},${alpha})`;

function boneColor(person, index, coloured) {
  const info = state.info;
  if (!coloured) return info.style.bone;
  const key = person.track_id ?? index;
  return info.style.person_colors[key % info.style.person_colors.length];
}

function outlinedText(ctx, text, x, y, colour, size) {
  ctx.font = `bold ${size}px sans-serif`;
  ctx.lineJoin = "round";
  ctx.lineWidth = Math.max(3, Math.round(size / 4));
  ctx.strokeStyle = "rgba(0,0,0,0.85)";
  ctx.strokeText(text, x, y);
  ctx.fillStyle = colour;
  ctx.fillText(text, x, y);
}

// options: threshold, labels, coloured (colour per person), selected (index or null), boxes
function drawSkeletons(ctx, doc, options) {
  const info = state.info;
  const [w, h] = [doc.image.width, doc.image.height];
  const scale = Math.max(w, h) / 640;
  const thickness = Math.max(1, Math.round(2 * scale));
  const radius = Math.max(2, Math.round(3 * scale));
  const textSize = Math.max(12, Math.round(9 * scale));
  doc.people.forEach((person, i) => {
    const dim = options.selected !== null && options.selected !== undefined && options.selected !== i;
    const alpha = dim ? 0.3 : 1;
    const bone = boneColor(person, i, options.coloured);
    const lm = person.landmarks;
    const shown = lm.map((p) => p.visibility >= options.threshold);
    ctx.lineWidth = thickness;
    ctx.lineCap = "round";
    ctx.strokeStyle = rgb(bone, alpha);
    for (const [a, b] of (info.skeletons?.[doc.skeleton] ?? info.schema).edges) {
      if (!shown[a] || !shown[b]) continue;
      ctx.beginPath();
      ctx.moveTo(lm[a].x, lm[a].y);
      ctx.lineTo(lm[b].x, lm[b].y);
      ctx.stroke();
    }
    ctx.fillStyle = rgb(info.style.joint, alpha);
    lm.forEach((p, k) => {
      if (!shown[k]) return;
      ctx.beginPath();
      ctx.arc(p.x, p.y, radius, 0, 2 * Math.PI);
      ctx.fill();
    });
    if (options.labels && !dim) {
      ctx.font = `${Math.max(10, Math.round(6 * scale))}px sans-serif`;
      ctx.fillStyle = "#fff";
      lm.forEach((p, k) => { if (shown[k]) ctx.fillText(p.name, p.x + radius + 2, p.y - radius); });
    }
    const [bx, by, bw, bh] = person.bbox;
    if (options.boxes && !dim) {
      ctx.setLineDash([6 * Math.max(1, scale), 4 * Math.max(1, scale)]);
      ctx.lineWidth = Math.max(1, Math.round(scale));
      ctx.strokeStyle = rgb(options.selected === i ? [255, 160, 0] : bone);
      ctx.strokeRect(bx, by, bw, bh);
      ctx.setLineDash([]);
    }
    if ((options.boxes || person.track_id !== null) && !dim) {
      const id = person.track_id ?? i;
      const label = options.boxes ? `#${id} ${person.score.toFixed(2)}` : `#${id}`;
      outlinedText(ctx, label, bx, Math.max(textSize, by - 4), rgb(bone), textSize);
    }
  });
}

// --- image tab ---------------------------------------------------------------------------
function imageOptions() {
  return { threshold: parseFloat($("threshold").value), labels: $("show-labels").checked };
}

function clearImageResult() {
  state.images.current = -1;
  state.images.selected = null;
  $("image-result").hidden = true;
  $("landmarks").querySelector("tbody").innerHTML = "";
  $("angles").querySelector("tbody").innerHTML = "";
  delete $("image-canvas").dataset.people;
}

async function estimateFiles(files) {
  const images = state.images;
  const seq = ++images.seq;  // a newer choice makes every answer to this one stale
  images.entries = files.map((file) => ({ file, name: file.name || "pasted.png", result: null, bitmap: null, error: null }));
  clearImageResult();
  renderGallery();
  setStatus("image-status", t("working"));
  const started = performance.now();
  for (let i = 0; i < images.entries.length; i += 1) {
    const entry = images.entries[i];
    await estimateOne(entry);
    if (seq !== images.seq) return;
    renderGallery();
    if (images.current < 0 && entry.result) showEntry(i);
  }
  const ok = images.entries.filter((e) => e.result).length;
  const bad = images.entries.length - ok;
  if (images.entries.length === 1) {
    const entry = images.entries[0];
    if (entry.error) { showError("image-status", entry.error); clearImageResult(); return; }
    const ms = Math.round(performance.now() - started);
    setStatus("image-status", t("found", entry.result.people.length, ms) + moreSeen(entry.result));
  } else {
    setStatus("image-status", t("galleryDone", ok, bad), ok === 0);
    if (ok === 0) clearImageResult();
  }
}

function moreSeen(doc) {
  const seen = doc.people_seen;  // sent when the engine saw more people than num_poses kept
  return typeof seen === "number" && seen > doc.people.length ? t("moreSeen", seen - doc.people.length) : "";
}

async function estimateOne(entry) {
  const query = modelQuery(new URLSearchParams({ num_poses: $("num-poses").value, angles: "true" }));
  try {
    const response = await fetch(`/api/v1/pose?${query}`, { method: "POST", body: entry.file, headers: headers() });
    if (!response.ok) { entry.error = await apiError(response); return; }
    const result = await response.json();
    entry.bitmap = await createImageBitmap(entry.file, { imageOrientation: "from-image" });
    entry.result = result;
  } catch (e) {
    entry.error = { code: "network", detail: String(e) };
  }
}

function renderGallery() {
  const entries = state.images.entries;
  const box = $("gallery");
  box.hidden = entries.length < 2;
  if (box.hidden) { box.innerHTML = ""; return; }
  box.innerHTML = "";
  entries.forEach((entry, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("aria-pressed", String(i === state.images.current));
    button.disabled = !entry.result;
    const img = document.createElement("canvas");  // drawn from the decoded image: no blob: URL (CSP)
    img.width = 120; img.height = 88;
    img.setAttribute("aria-hidden", "true");
    if (entry.bitmap) {
      const b = entry.bitmap;
      const k = Math.max(img.width / b.width, img.height / b.height);
      img.getContext("2d").drawImage(b, (img.width - k * b.width) / 2, (img.height - k * b.height) / 2, k * b.width, k * b.height);
    }
    const caption = document.createElement("span");
    caption.textContent = entry.name;
    const detail = document.createElement("span");
    if (entry.error) { detail.textContent = errorText(entry.error); detail.className = "failed"; }
    else if (entry.result) detail.textContent = `${entry.result.people.length} · ${t("peopleFound")}`;
    else detail.textContent = "…";
    button.append(img, caption, detail);
    button.onclick = () => showEntry(i);
    box.appendChild(button);
  });
}

function showEntry(index) {
  const images = state.images;
  const entry = images.entries[index];
  if (!entry || !entry.result) return;
  if (images.current !== index) images.selected = null;
  images.current = index;
  $("image-result").hidden = false;
  renderImage();
  renderPeople();
  renderTables();
  for (const [i, b] of [...$("gallery").children].entries()) b.setAttribute("aria-pressed", String(i === index));
}

function currentEntry() {
  return state.images.entries[state.images.current];
}

function renderImage() {
  const entry = currentEntry();
  if (!entry) return;
  const canvas = $("image-canvas");
  canvas.width = entry.bitmap.width;
  canvas.height = entry.bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(entry.bitmap, 0, 0);
  const many = entry.result.people.length > 1;
  drawSkeletons(ctx, entry.result, { ...imageOptions(), coloured: many, boxes: many, selected: state.images.selected });
  canvas.dataset.people = String(entry.result.people.length);
  canvas.dataset.name = entry.name;
  canvas.setAttribute("aria-label", t("canvasImage", entry.name, entry.result.people.length));
}

function renderPeople() {
  const entry = currentEntry();
  const people = entry.result.people;
  $("people-box").hidden = people.length < 2;
  const box = $("people");
  box.innerHTML = "";
  people.forEach((person, i) => {
    const button = document.createElement("button");
    button.type = "button";
    const score = person.score.toFixed(2);
    const bbox = person.bbox.map((v) => Math.round(v)).join(", ");
    button.textContent = t("personButton", i, person.track_id, score);
    button.setAttribute("aria-label", t("personLabel", i, person.track_id, score, bbox));
    button.title = t("selectedPerson", person.track_id ?? i);
    button.setAttribute("aria-pressed", String(state.images.selected === i));
    button.onclick = () => selectPerson(state.images.selected === i ? null : i);
    box.appendChild(button);
  });
}

function selectPerson(index) {
  state.images.selected = index;
  renderImage();
  renderPeople();
  renderTables();
}

const cell = (text) => { const td = document.createElement("td"); td.textContent = text; return td; };

function renderTables() {
  const entry = currentEntry();
  const threshold = imageOptions().threshold;
  const selected = state.images.selected;
  const body = $("landmarks").querySelector("tbody");
  body.innerHTML = "";
  entry.result.people.forEach((person, i) => {
    if (selected !== null && selected !== i) return;
    person.landmarks.forEach((p) => {
      const tr = document.createElement("tr");
      if (p.visibility < threshold) tr.className = "hidden-point";
      if (selected === i) tr.classList.add("selected");
      tr.dataset.person = String(i);
      const name = cell(state.lang === "zh" ? angleName(p.name) : p.name);
      name.title = p.name;
      tr.append(cell(String(person.track_id ?? i)), name, cell(p.x.toFixed(1)), cell(p.y.toFixed(1)),
        cell(p.z.toFixed(3)), cell(p.visibility.toFixed(2)));
      body.appendChild(tr);
    });
  });
  const angleBody = $("angles").querySelector("tbody");
  angleBody.innerHTML = "";
  const person = entry.result.people[selected ?? 0];
  if (!person || !person.angles) return;
  const image = person.angles.image || {};
  const world = person.angles.world || {};
  const names = state.info.angles || Object.keys(image);
  for (const name of names) {
    const tr = document.createElement("tr");
    tr.dataset.angle = name;
    const fmt = (v) => (v === null || v === undefined ? "–" : v.toFixed(1));
    tr.append(cell(angleName(name)), cell(fmt(image[name])), cell(fmt(world[name])));
    angleBody.appendChild(tr);
  }
}

function download(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function baseName(name) {
  return (name || "pose").replace(/\.[^.]+$/, "");
}

async function downloadCsv() {
  const entry = currentEntry();
  if (!entry) return;
  const query = modelQuery(new URLSearchParams({ format: "csv", num_poses: $("num-poses").value }));
  const response = await fetch(`/api/v1/pose?${query}`, { method: "POST", body: entry.file, headers: headers() });
  if (response.ok) download(`${baseName(entry.name)}.csv`, await response.blob());
  else showError("image-status", await apiError(response));
}

function imagesFrom(list) {
  return [...(list || [])].filter((f) => f.type.startsWith("image/") || /\.(jpe?g|png|webp|bmp)$/i.test(f.name));
}

// --- video tab ---------------------------------------------------------------------------
function chosenOutputs() {
  const kinds = [...document.querySelectorAll("#video-outputs input:checked")].map((i) => i.value);
  if (!kinds.includes("jsonl")) kinds.push("jsonl");  // the analysis (angles, reps, BVH) reads it
  return kinds;
}

function resetVideoPanel() {
  const video = state.video;
  video.job = null; video.reps = null; video.curves = null;
  $("video-result").hidden = true;
  $("video-player").removeAttribute("src");
  $("upload-progress").value = 0;
  $("job-progress").value = 0;
}

async function cancelVideo(showStatus = true) {
  const video = state.video;
  video.seq += 1;
  if (video.xhr) { video.xhr.abort(); video.xhr = null; }
  const id = video.jobId;
  video.jobId = null;
  $("video-cancel").disabled = true;
  if (id) await fetch(`/api/v1/videos/${id}`, { method: "DELETE", headers: headers() }).catch(() => {});
  if (showStatus) {
    resetVideoPanel();
    setStatus("video-status", t("cancelled"));
  }
}

async function uploadVideo(file) {
  await cancelVideo(false);  // one video at a time: a new choice replaces the one in progress
  const video = state.video;
  const seq = video.seq;
  video.file = file;
  resetVideoPanel();
  $("video-cancel").disabled = false;
  setStatus("video-status", t("uploading"));
  const query = modelQuery(new URLSearchParams({
    num_poses: $("video-num-poses").value, filename: file.name, smoothing: $("smoothing").value,
    outputs: chosenOutputs().join(","),
  }));
  const job = await sendVideo(file, query, (fraction) => { if (seq === video.seq) $("upload-progress").value = fraction; },
    (xhr) => { video.xhr = xhr; });
  if (seq !== video.seq) return;
  video.xhr = null;
  if (job.error) { showError("video-status", job.error); $("video-cancel").disabled = true; return; }
  $("upload-progress").value = 1;
  video.jobId = job.id;
  const final = await waitForJob(job.id, (j) => { if (seq === video.seq) showJobProgress(j); }, () => seq !== video.seq);
  if (seq !== video.seq || !final) return;
  $("video-cancel").disabled = true;
  if (final.state !== "done") {
    const error = final.error || { code: "internal_error" };
    showError("video-status", error);
    return;
  }
  $("job-progress").value = 1;
  $("job-progress").setAttribute("value", "1");
  video.job = final;
  setStatus("video-status", t("videoDone", final.summary.frames, final.summary.track_ids.length, totalSeconds(final)));
  await loadVideoAnalysis(final, seq);
  if (seq !== video.seq) return;
  showVideoResult(final, true);
}

// POST a video as a job; resolves to the job document or {error}.
function sendVideo(file, query, onProgress, onStart) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    onStart(xhr);
    xhr.open("POST", `/api/v1/videos?${query}`);
    for (const [k, v] of Object.entries(headers())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      if (xhr.status === 202) { resolve(JSON.parse(xhr.responseText)); return; }
      if (xhr.status === 401) $("key-box").hidden = false;
      try { const b = JSON.parse(xhr.responseText); resolve({ error: { code: b.error.code, detail: b.error.message } }); }
      catch (_) { resolve({ error: { code: `http_${xhr.status}` } }); }
    };
    xhr.onerror = () => resolve({ error: { code: "network" } });
    xhr.onabort = () => resolve({ error: { code: "aborted" } });
    xhr.send(file);
  });
}

async function waitForJob(id, onUpdate, stale) {
  for (;;) {
    if (stale()) return null;
    let response;
    try { response = await fetch(`/api/v1/videos/${id}`, { headers: headers() }); }
    catch (_) { return { state: "failed", error: { code: "network" } }; }
    if (stale()) return null;
    if (!response.ok) return { state: "failed", error: await apiError(response) };
    const job = await response.json();
    onUpdate(job);
    if (["done", "failed", "cancelled"].includes(job.state)) return job;
    await new Promise((r) => setTimeout(r, 400));
  }
}

function showJobProgress(job) {
  const bar = $("job-progress");
  const p = job.progress;
  if (job.state === "queued" || !p) { setStatus("video-status", t(job.state === "queued" ? "queued" : "stageStart")); return; }
  if (p.stage === "render") {
    bar.removeAttribute("value");  // indeterminate: the drawing stage reports only its start and end
    setStatus("video-status", t("stageRender"));
    return;
  }
  if (p.fraction !== null) bar.value = 0.85 * p.fraction;
  if (p.frames_done > 0 && p.eta_s !== null && p.eta_s > 0 && p.fps >= 0.1) {  // never "0 fps, 0 s left"
    setStatus("video-status", t("stageEstimate", p.frames_done, p.frames_total, p.fps.toFixed(1), Math.ceil(p.eta_s)));
  } else {
    setStatus("video-status", t("running"));
  }
}

function totalSeconds(job) {
  const s = job.summary.seconds || {};
  const total = s.total ?? Object.values(s).reduce((a, b) => a + b, 0);
  return total.toFixed(1);
}

async function loadVideoAnalysis(job, seq) {
  const video = state.video;
  const exercise = $("video-exercise").value;
  const get = async (url) => {
    const r = await fetch(url, { headers: headers() });
    return r.ok ? r.json() : { error: await apiError(r) };
  };
  const [curves, reps] = await Promise.all([
    get(`/api/v1/videos/${job.id}/angles`),
    exercise ? get(`/api/v1/videos/${job.id}/reps?exercise=${encodeURIComponent(exercise)}`) : null,
  ]);
  if (seq !== video.seq) return;
  video.curves = curves && !curves.error ? curves : null;
  video.reps = reps && !reps.error ? reps : null;
}

function showVideoResult(job, loadPlayer) {
  const video = state.video;
  const summary = $("video-summary");
  summary.innerHTML = "";
  const duration = job.summary.frames && video.curves && video.curves.timestamps_ms.length
    ? (video.curves.timestamps_ms[video.curves.timestamps_ms.length - 1] / 1000).toFixed(1) : null;
  const rows = [["sumFile", job.filename], ["sumFrames", String(job.summary.frames)],
    ["sumTracks", job.summary.track_ids.length ? job.summary.track_ids.map((i) => `#${i}`).join(" ") : t("none2")],
    ["sumTime", t("seconds", totalSeconds(job))]];
  if (duration) rows.splice(2, 0, ["sumDuration", t("seconds", duration)]);
  for (const [key, value] of rows) {
    const dt = document.createElement("dt"); dt.textContent = t(key);
    const dd = document.createElement("dd"); dd.textContent = value; dd.dataset.field = key;
    summary.append(dt, dd);
  }
  const links = $("video-downloads");
  links.innerHTML = "";
  const files = { ...job.files };
  if (files.jsonl) files.bvh = `/api/v1/videos/${job.id}/bvh`;
  for (const [kind, url] of Object.entries(files)) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.kind = kind;
    button.textContent = kind === "angles" ? `${kind.toUpperCase()} CSV` : kind.toUpperCase();
    button.onclick = async () => {
      const r = await fetch(url, { headers: headers() });
      if (!r.ok) { showError("video-status", await apiError(r)); return; }
      const name = (r.headers.get("content-disposition") || "").match(/filename="?([^";]+)/);
      download(name ? name[1] : `${baseName(job.filename)}.${kind}`, await r.blob());
    };
    links.appendChild(button);
  }
  if (loadPlayer && job.files.mp4) {
    // Played from the server itself (same origin, range requests), not from a blob: URL.
    const key = $("api-key").value.trim();
    $("video-player").src = key ? `${job.files.mp4}?api_key=${encodeURIComponent(key)}` : job.files.mp4;
  }
  $("video-player").hidden = !job.files.mp4;
  $("video-result").hidden = false;  // first, so the chart knows its displayed width
  renderReps(video.reps);
  renderCurveChoices();
  drawCurves();
}

function renderReps(reps) {
  $("video-reps-box").hidden = !reps;
  if (!reps) return;
  $("video-reps-summary").textContent = `${exerciseName(reps.exercise)}: ` + t("repsCount", reps.reps, reps.partial,
    state.lang === "zh" ? SIGNALS_ZH[reps.exercise] ?? reps.signal : reps.signal);
  const body = $("video-reps").querySelector("tbody");
  body.innerHTML = "";
  for (const rep of reps.items) {
    const tr = document.createElement("tr");
    tr.dataset.complete = String(rep.complete);
    const flags = rep.flags.length ? rep.flags.map(flagName).join(", ") : t("noFlags");
    tr.append(cell(String(rep.index + 1)), cell(t(`kind_${rep.reason}`)),
      cell(`${(rep.time_ms.start / 1000).toFixed(1)}–${(rep.time_ms.end / 1000).toFixed(1)}`),
      cell(rep.tempo_s.to_peak.toFixed(2)), cell(rep.tempo_s.return.toFixed(2)), cell(rep.peak_deg.toFixed(1)),
      cell(rep.rom_deg.toFixed(1)), cell(flags));
    body.appendChild(tr);
  }
}

function renderCurveChoices() {
  const curves = state.video.curves;
  $("video-angles-box").hidden = !curves;
  if (!curves) return;
  const box = $("curve-choices");
  box.innerHTML = "";
  Object.keys(curves.angles).forEach((name, k) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    input.checked = state.video.shown.has(name);
    input.onchange = () => { if (input.checked) state.video.shown.add(name); else state.video.shown.delete(name); drawCurves(); };
    const swatch = document.createElement("span");
    swatch.textContent = "■ ";
    swatch.style.color = CURVE_COLORS[k % CURVE_COLORS.length];
    swatch.setAttribute("aria-hidden", "true");
    label.append(input, " ", swatch, angleName(name));
    box.appendChild(label);
  });
}

function drawCurves() {
  const curves = state.video.curves;
  if (!curves) return;
  const canvas = $("angle-chart");
  const dpr = window.devicePixelRatio || 1;
  const shown = canvas.clientWidth || 960;  // drawn at its displayed size, so the labels stay readable
  canvas.width = Math.round(shown * dpr);
  canvas.height = Math.round(Math.max(200, Math.min(320, shown / 3)) * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const [w, h] = [canvas.width / dpr, canvas.height / dpr];
  const pad = { left: 40, right: 10, top: 12, bottom: 26 };
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, w, h);
  const times = curves.timestamps_ms.map((v) => v / 1000);
  const tMax = Math.max(times[times.length - 1] || 1, 0.001);
  const x = (s) => pad.left + (s / tMax) * (w - pad.left - pad.right);
  const y = (deg) => h - pad.bottom - (deg / 180) * (h - pad.top - pad.bottom);
  ctx.strokeStyle = "#d0d5da"; ctx.fillStyle = "#4f5a65"; ctx.lineWidth = 1; ctx.font = "12px sans-serif";
  for (let deg = 0; deg <= 180; deg += 45) {
    ctx.beginPath(); ctx.moveTo(pad.left, y(deg)); ctx.lineTo(w - pad.right, y(deg)); ctx.stroke();
    ctx.fillText(`${deg}°`, 8, y(deg) + 4);
  }
  const step = tMax > 20 ? 5 : tMax > 8 ? 2 : 1;
  for (let s = 0; s <= tMax; s += step) ctx.fillText(`${s}s`, x(s) - 6, h - 10);
  const described = [];
  let drawn = 0;
  Object.entries(curves.angles).forEach(([name, values], k) => {
    if (!state.video.shown.has(name)) return;
    ctx.strokeStyle = CURVE_COLORS[k % CURVE_COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) { pen = false; return; }
      if (pen) ctx.lineTo(x(times[i]), y(v)); else ctx.moveTo(x(times[i]), y(v));
      pen = true;
    });
    ctx.stroke();
    const finite = values.filter((v) => v !== null);
    if (finite.length) {
      drawn += 1;
      described.push(t("chartRange", angleName(name), Math.round(Math.min(...finite)), Math.round(Math.max(...finite))));
    }
  });
  canvas.dataset.curves = String(drawn);
  canvas.setAttribute("aria-label", t("chartLabel", described.join("; ")));
}

// --- webcam tab --------------------------------------------------------------------------
async function startCamera() {
  const video = $("cam-video");
  $("cam-start").disabled = true;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
    video.srcObject = stream;
    await video.play();
  } catch (e) {
    $("cam-start").disabled = false;
    setStatus("cam-status", t("err_camera"), true);
    $("cam-status").title = `${e.name}: ${e.message}`;
    return;
  }
  const protocol = location.protocol === "https:" ? "wss" : "ws";
  const exercise = $("exercise").value;
  const key = $("api-key").value.trim();
  const query = modelQuery(new URLSearchParams({ num_poses: $("cam-num-poses").value }));
  if (exercise) query.set("exercise", exercise);
  const socket = new WebSocket(`${protocol}://${location.host}/api/v1/live?${query}`);
  socket.binaryType = "arraybuffer";
  const grab = document.createElement("canvas");
  const cam = { socket, stream: video.srcObject, frames: 0, times: [], busy: false, tracks: new Set(), last: null };
  state.camera = cam;
  $("reps").textContent = "0";
  $("reps-box").hidden = !exercise;
  $("form-feedback").innerHTML = "";
  $("form-feedback").hidden = true;
  const live = () => state.camera === cam && socket.readyState === WebSocket.OPEN;
  const send = () => {
    if (!live() || cam.busy) return;
    grab.width = video.videoWidth; grab.height = video.videoHeight;
    grab.getContext("2d").drawImage(video, 0, 0);
    cam.busy = true;
    grab.toBlob((blob) => {
      if (!blob || !live()) { cam.busy = false; return; }
      blob.arrayBuffer().then((b) => { if (live()) socket.send(b); else cam.busy = false; });
    }, "image/jpeg", 0.8);
  };
  socket.onopen = () => {
    if (state.camera !== cam) { socket.close(1000); return; }
    if (key) socket.send(JSON.stringify({ api_key: key }));  // never in the URL
    setStatus("cam-status", t("camOn")); send();
  };
  socket.onmessage = (event) => {
    if (state.camera !== cam) return;
    cam.busy = false;
    const doc = JSON.parse(event.data);
    if (doc.error) { showError("cam-status", doc.error); send(); return; }
    drawLive(cam, grab, doc);
    requestAnimationFrame(send);
  };
  socket.onclose = (e) => {
    if (state.camera !== cam) return;
    if (e.code !== 1000) setStatus("cam-status", e.code === 4401 ? t("err_unauthorized") : t("err_socket"), true);
    stopCamera(false);
  };
  $("cam-stop").disabled = false;
}

function drawLive(cam, grab, doc) {
  const canvas = $("cam-canvas");
  canvas.width = grab.width; canvas.height = grab.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(grab, 0, 0);
  for (const p of doc.people) if (p.track_id !== null) cam.tracks.add(p.track_id);
  const coloured = cam.tracks.size > 1 || doc.people.length > 1;  // one person: white bones, as on images
  const threshold = parseFloat($("cam-threshold").value);
  drawSkeletons(ctx, doc, { threshold, labels: false, coloured, boxes: false, selected: null });
  canvas.hidden = false;
  $("cam-placeholder").hidden = true;
  cam.frames += 1;
  cam.last = doc;
  const now = performance.now();
  cam.times.push(now);
  while (cam.times.length > 2 && now - cam.times[0] > 2000) cam.times.shift();  // the last 2 s only
  if (cam.times.length >= 2) {
    const fps = (cam.times.length - 1) / ((now - cam.times[0]) / 1000);
    $("fps").textContent = fps.toFixed(1);
  }
  canvas.dataset.frames = String(cam.frames);
  canvas.dataset.people = String(doc.people.length);
  canvas.setAttribute("aria-label", t("canvasLive", doc.people.length));
  if (doc.reps) {
    $("reps").textContent = String(doc.reps.reps);
    if (doc.reps.finished) addFeedback(doc.reps.finished);
  }
}

function addFeedback(rep) {
  const list = $("form-feedback");
  const li = document.createElement("li");
  const flags = rep.flags.map(flagName).join(", ");
  li.textContent = t("repFeedback", rep.index + 1, t(`kind_${rep.reason}`), flags);
  if (rep.flags.length || !rep.complete) li.className = "bad";
  list.prepend(li);
  while (list.children.length > 5) list.lastChild.remove();
  list.hidden = false;
}

function stopCamera(showStatus = true) {
  const cam = state.camera;
  state.camera = null;
  if (cam) {
    if (cam.socket.readyState === WebSocket.OPEN) cam.socket.close(1000);
    else if (cam.socket.readyState === WebSocket.CONNECTING) cam.socket.onopen = () => cam.socket.close(1000);
    cam.stream.getTracks().forEach((track) => track.stop());
  }
  $("cam-video").srcObject = null;
  const canvas = $("cam-canvas");
  canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height);
  canvas.hidden = true;
  delete canvas.dataset.frames;
  $("cam-placeholder").hidden = false;
  $("fps").textContent = "–";
  $("cam-start").disabled = false;
  $("cam-stop").disabled = true;
  if (showStatus) setStatus("cam-status", t("camOff"));
}

// --- compare tab -------------------------------------------------------------------------
const isVideo = (file) => file.type.startsWith("video/") || /\.(mp4|mov|avi|webm|mkv|m4v)$/i.test(file.name);

function chooseCompare(which, file) {
  state.compare[which] = file || null;
  $(`compare-${which}-name`).textContent = file ? file.name : "";
  $("compare-run").disabled = !(state.compare.reference && state.compare.other);
}

async function runCompare() {
  const { reference, other } = state.compare;
  const seq = ++state.compare.seq;
  state.compare.result = null;
  $("compare-result").hidden = true;
  if (isVideo(reference) !== isVideo(other)) { setStatus("compare-status", t("compareMixed"), true); return; }
  const result = isVideo(reference) ? await compareVideos(reference, other, seq) : await comparePhotos(reference, other);
  if (seq !== state.compare.seq) return;
  if (result.error) { showError("compare-status", result.error); return; }
  setStatus("compare-status", "");
  state.compare.result = result;
  showCompare(result);
}

async function comparePhotos(reference, other) {
  setStatus("compare-status", t("compareWorking"));
  const form = new FormData();
  form.append("reference", reference);
  form.append("other", other);
  const pose = (file) => fetch(`/api/v1/pose?${modelQuery(new URLSearchParams())}`, { method: "POST", body: file, headers: headers() });
  try {
    const [score, a, b] = await Promise.all([
      fetch(`/api/v1/compare?${modelQuery(new URLSearchParams())}`, { method: "POST", body: form, headers: headers() }),
      pose(reference), pose(other)]);
    for (const r of [score, a, b]) if (!r.ok) return { error: await apiError(r) };
    const report = await score.json();
    const worst = report.joints.filter((j) => j.lost > 0).sort((p, q) => q.lost - p.lost).slice(0, 5);
    const docs = [await a.json(), await b.json()];
    const bitmaps = await Promise.all([reference, other].map((f) => createImageBitmap(f, { imageOrientation: "from-image" })));
    return { kind: "photos", score: report.score, mirrored: report.mirrored, worst, docs, bitmaps, names: [reference.name, other.name] };
  } catch (e) {
    return { error: { code: "network", detail: String(e) } };
  }
}

async function compareVideos(reference, other, seq) {
  setStatus("compare-status", t("compareVideos"));
  const stale = () => seq !== state.compare.seq;
  const ids = [];
  try {
    for (const file of [reference, other]) {
      const query = modelQuery(new URLSearchParams({ outputs: "jsonl", filename: file.name }));
      const job = await sendVideo(file, query, () => {}, () => {});
      if (job.error) return { error: job.error };
      ids.push(job.id);
    }
    for (const id of ids) {
      const job = await waitForJob(id, () => {}, stale);
      if (!job) return { error: { code: "aborted" } };
      if (job.state !== "done") return { error: job.error || { code: "internal_error" } };
    }
    const r = await fetch(`/api/v1/compare/videos?reference=${ids[0]}&other=${ids[1]}`, { headers: headers() });
    if (!r.ok) return { error: await apiError(r) };
    const report = await r.json();
    const lost = {};
    for (const phase of report.phases) for (const j of phase.worst_joints) lost[j.name] = Math.max(lost[j.name] || 0, j.lost);
    const worst = Object.entries(lost).map(([name, v]) => ({ name, lost: v })).sort((p, q) => q.lost - p.lost).slice(0, 5);
    return { kind: "videos", score: report.score, tempo: report.tempo_ratio, worst, names: [reference.name, other.name] };
  } finally {
    for (const id of ids) fetch(`/api/v1/videos/${id}`, { method: "DELETE", headers: headers() }).catch(() => {});
  }
}

function showCompare(result) {
  $("compare-score").textContent = result.score.toFixed(1);
  const extra = [];
  if (result.mirrored) extra.push(t("mirrored"));
  if (result.tempo) extra.push(t("tempo", result.tempo.toFixed(2)));
  $("compare-extra").textContent = extra.length ? `(${extra.join(", ")})` : "";
  const body = $("compare-worst").querySelector("tbody");
  body.innerHTML = "";
  for (const joint of result.worst) {
    const tr = document.createElement("tr");
    tr.append(cell(angleName(joint.name)), cell(joint.lost.toFixed(1)));
    body.appendChild(tr);
  }
  const pair = [$("compare-canvas-reference"), $("compare-canvas-other")];
  pair.forEach((canvas, i) => {
    canvas.hidden = result.kind !== "photos";
    if (result.kind !== "photos") return;
    canvas.width = result.bitmaps[i].width;
    canvas.height = result.bitmaps[i].height;
    const ctx = canvas.getContext("2d");
    ctx.drawImage(result.bitmaps[i], 0, 0);
    drawSkeletons(ctx, result.docs[i], { threshold: 0.5, labels: false, coloured: result.docs[i].people.length > 1, boxes: false, selected: null });
    canvas.setAttribute("aria-label", t("canvasCompare", result.names[i]));
  });
  $("compare-result").hidden = false;
}

// --- wiring ------------------------------------------------------------------------------
function fillExercises() {
  if (!state.info) return;
  for (const select of document.querySelectorAll(".exercise-select")) {
    const value = select.value;
    select.innerHTML = "";
    const none = document.createElement("option");
    none.value = ""; none.textContent = t("none");
    select.appendChild(none);
    for (const name of state.info.exercises) {
      const option = document.createElement("option");
      option.value = name; option.textContent = exerciseName(name);
      select.appendChild(option);
    }
    select.value = value;
  }
}

function fillOutputs() {
  const box = $("video-outputs");
  const checked = new Set([...box.querySelectorAll("input")].map((i) => (i.checked ? i.value : null)).filter(Boolean));
  const initial = checked.size === 0;
  box.querySelectorAll("label").forEach((l) => l.remove());
  const kinds = state.info ? OUTPUT_KINDS.filter((k) => state.info.video_outputs.includes(k)) : [];
  for (const kind of kinds) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.value = kind;
    input.checked = initial ? DEFAULT_OUTPUTS.has(kind) : checked.has(kind);
    label.append(input, ` ${kind === "angles" ? "angles CSV" : kind}`);
    box.appendChild(label);
  }
}

function fillModels() {
  const models = state.info.models;
  $("model-box").hidden = !Array.isArray(models) || models.length < 2;
  if ($("model-box").hidden) return;
  const select = $("model");
  select.innerHTML = "";
  for (const m of models) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.family ? `${m.name} (${m.family})` : m.name;
    option.disabled = m.installed === false;
    option.selected = Boolean(m.default);
    select.appendChild(option);
  }
}

async function loadInfo() {
  let response;
  try { response = await fetch("/api/v1/info", { headers: headers() }); }
  catch (_) { setStatus("image-status", t("networkError"), true); return; }
  if (response.status === 401) { $("key-box").hidden = false; setStatus("image-status", t("needKey"), true); return; }
  state.info = await response.json();
  $("version").textContent = `localpose ${state.info.version} · ${state.info.model.name}`;
  fillModels();
  applyLanguage();
}

const TABS = () => [...document.querySelectorAll("[role=tab]")];

function selectTab(name, focus = false) {
  for (const button of TABS()) {
    const on = button.dataset.tab === name;
    button.setAttribute("aria-selected", String(on));
    button.tabIndex = on ? 0 : -1;
    if (on && focus) button.focus();
  }
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== `tab-${name}`;
  if (name !== "webcam" && state.camera) stopCamera();
}

function tabKeys(event) {
  const tabs = TABS();
  const index = tabs.indexOf(document.activeElement);
  if (index < 0) return;
  const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 };
  if (!(event.key in moves)) return;
  event.preventDefault();
  const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
  selectTab(next.dataset.tab, true);
}

function wire() {
  $("lang").onclick = () => {
    state.lang = state.lang === "en" ? "zh" : "en";
    localStorage.setItem("localpose.lang", state.lang);
    applyLanguage();
  };
  for (const button of TABS()) button.onclick = () => selectTab(button.dataset.tab);
  document.querySelector(".tabs").addEventListener("keydown", tabKeys);
  $("api-key").onchange = () => { if (!state.info) loadInfo(); };
  for (const input of document.querySelectorAll("input[type=file]")) {
    input.addEventListener("keydown", (e) => {  // Enter or Space on the focused button opens the chooser
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
  }
  $("image-file").onchange = (e) => { const files = imagesFrom(e.target.files); if (files.length) estimateFiles(files); e.target.value = ""; };
  const drop = $("drop");
  drop.ondragover = (e) => { e.preventDefault(); drop.classList.add("over"); };
  drop.ondragleave = () => drop.classList.remove("over");
  drop.ondrop = (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const files = imagesFrom(e.dataTransfer.files);
    if (files.length) estimateFiles(files);
  };
  document.addEventListener("paste", (e) => {
    if ($("tab-image").hidden) return;
    const files = imagesFrom([...(e.clipboardData ? e.clipboardData.files : [])]);
    if (!files.length) return;
    e.preventDefault();
    estimateFiles(files);
  });
  $("threshold").oninput = () => {
    $("threshold-value").textContent = parseFloat($("threshold").value).toFixed(2);
    if (currentEntry()) { renderImage(); renderTables(); }
  };
  $("show-labels").onchange = () => { if (currentEntry()) renderImage(); };
  $("num-poses").onchange = () => {
    const files = state.images.entries.map((e) => e.file);
    if (files.length) estimateFiles(files);
  };
  $("dl-json").onclick = () => {
    const entry = currentEntry();
    if (entry) download(`${baseName(entry.name)}.json`, new Blob([JSON.stringify(entry.result, null, 1)], { type: "application/json" }));
  };
  $("dl-csv").onclick = downloadCsv;
  $("dl-png").onclick = () => {
    const entry = currentEntry();
    if (entry) $("image-canvas").toBlob((b) => download(`${baseName(entry.name)}.pose.png`, b), "image/png");
  };
  $("video-file").onchange = (e) => { if (e.target.files[0]) uploadVideo(e.target.files[0]); e.target.value = ""; };
  $("video-cancel").onclick = () => cancelVideo(true);
  $("dl-chart").onclick = () => $("angle-chart").toBlob((b) => download(`${baseName(state.video.job.filename)}.angles.png`, b), "image/png");
  $("cam-start").onclick = startCamera;
  $("cam-stop").onclick = () => stopCamera(true);
  $("cam-threshold").oninput = () => { $("cam-threshold-value").textContent = parseFloat($("cam-threshold").value).toFixed(2); };
  $("compare-reference").onchange = (e) => chooseCompare("reference", e.target.files[0]);
  $("compare-other").onchange = (e) => chooseCompare("other", e.target.files[0]);
  $("compare-run").onclick = runCompare;
  let resizing = null;
  window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(drawCurves, 150); });
}

applyLanguage();
wire();
loadInfo();
