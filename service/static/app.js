// The probe page's controls: the service's configuration read (/v1/config), the protocol and model choices, the
// image, video or frames chosen, and the form that runs a probe (probe.js). The pictures: image_view.js (the crop
// window), shift_plots.js and protocols.js (heatmaps and curves), sequence.js (per-frame curves).

import { drawImage } from "./image_view.js";
import { $, setStatus, state } from "./page.js";
import { runProbe } from "./probe.js";
import { isVideo, SEQUENCE } from "./sequence.js";

async function init() {
  $("protocol").addEventListener("change", () => {
    showProtocolFields();
    const shift = state.config.protocol_max_shift[$("protocol").value];
    if (shift) $("max_shift").value = shift;
  });
  $("file").addEventListener("change", () => {
    const file = $("file").files[0];
    state.files = $("file").files.length > 1 ? [...$("file").files] : null;
    state.video = file && isVideo(file) ? file : null;
    if (state.video) return setVideo(file);
    if (file) setImage(file, state.files ? `${state.files.length} frames` : file.name);
  });
  for (const button of document.querySelectorAll(".sample")) {
    button.addEventListener("click", () => pickSample(button));
  }
  $("probe-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runProbe();
  });
  try {
    const response = await fetch("/v1/config");
    state.config = await response.json();
  } catch (error) {
    setStatus(`cannot read the service configuration: ${error}`, true);
    return;
  }
  renderProtocolChoices(state.config);
  renderModelChoices(state.config);
  $("api-key-label").hidden = !state.config.api_key_required;
}

function showProtocolFields() {
  const protocol = $("protocol").value;
  for (const label of document.querySelectorAll("label[data-for]")) {
    label.hidden = !label.dataset.for.split(" ").includes(protocol);
  }
  $("file").multiple = protocol === SEQUENCE; // several files: the frames of a sequence
}

function renderProtocolChoices(config) {
  const select = $("protocol");
  select.textContent = "";
  for (const name of config.protocols) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name} — ${config.protocol_descriptions[name]}`;
    select.append(option);
  }
  const sequence = document.createElement("option");
  sequence.value = SEQUENCE;
  sequence.textContent = `${SEQUENCE} — ${config.sequence_description}`;
  select.append(sequence);
  if (config.protocols.includes("grid")) select.value = "grid"; // its heatmap shows the most at a glance
  showProtocolFields();
}

function renderModelChoices(config) {
  const box = $("models");
  box.textContent = "";
  config.models.forEach((name, i) => {
    const label = document.createElement("label");
    label.className = "model-choice";
    const input = document.createElement("input");
    input.type = "checkbox";
    input.value = name;
    input.checked = i < 2;
    label.append(input, name);
    const classes = (config.labels || {})[name];
    if (classes) {
      // The model's own classes: a count, and their names on hover (the first few shown for a small label set).
      const note = document.createElement("span");
      note.className = "model-classes";
      note.textContent = classes.length <= 5 ? ` (${classes.join(", ")})` : ` (${classes.length} classes)`;
      note.title = classes.slice(0, 50).join(", ") + (classes.length > 50 ? ", …" : "");
      label.append(note);
    }
    box.append(label);
  });
}

async function pickSample(button) {
  for (const b of document.querySelectorAll(".sample")) b.classList.toggle("selected", b === button);
  const response = await fetch(button.dataset.src);
  await setImage(await response.blob(), button.dataset.src.split("/").pop());
}

function setVideo(file) {
  state.blob = null;
  state.bitmap = null;
  $("protocol").value = SEQUENCE;
  showProtocolFields();
  $("image-name").textContent = `${file.name} (video: its frames are a sequence)`;
  $("run").disabled = false;
  drawImage(null);
}

async function setImage(blob, name) {
  state.video = null;
  state.blob = blob;
  state.name = name;
  try {
    state.bitmap = await createImageBitmap(blob);
  } catch (error) {
    state.bitmap = null; // the service will say what is wrong with it
  }
  $("image-name").textContent = name;
  $("run").disabled = false;
  drawImage(null);
}

init();
