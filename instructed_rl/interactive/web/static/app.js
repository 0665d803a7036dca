// instructed-rl serve: the page's script. One websocket per tab; every request gets one reply,
// in order. The page sets the pace: while an instruction runs and play is on, it asks for the
// next step once the last one has been drawn and the speed's delay has passed.
"use strict";

const $ = (id) => document.getElementById(id);
const MAX_SPEED = 31; // the slider's last notch: as fast as the server answers

let socket = null;
let pending = []; // requests sent and not yet answered: {type, epoch, worlds}
let epoch = 0; // bumped by each world / run request: older step replies are stale
let worlds = 0; // bumped by each world request: an older world reply is stale (the form shows a newer one)
let running = false; // an instruction is under way
let playing = true; // play (true) or pause (false)
let stepTimer = null;
let world = null; // the last world reply
let lastTarget = null;

function send(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showError("not connected to the server. Fix: start 'instructed-rl serve' again and reload the page");
    return;
  }
  if (message.type === "world" || message.type === "run") {
    epoch += 1;
    running = false;
    clearTimeout(stepTimer);
  }
  if (message.type === "world") worlds += 1;
  pending.push({ type: message.type, epoch, worlds });
  socket.send(JSON.stringify(message));
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function stepDelay() {
  const speed = Number($("speed").value);
  return speed >= MAX_SPEED ? 0 : 1000 / speed;
}

function schedule() {
  clearTimeout(stepTimer);
  if (running && playing && !pending.some((r) => r.type === "step")) {
    stepTimer = setTimeout(() => { if (running && playing) send({ type: "step" }); }, stepDelay());
  }
}

function worldRequest(overrides = {}) {
  return {
    type: "world",
    game: $("game").value.trim(),
    split: $("split").value,
    corpus: $("corpus").value.trim(),
    seed: $("seed").value.trim(),
    ...overrides,
  };
}

// ---- drawing ---------------------------------------------------------------------------------

function drawTarget(cells) {
  lastTarget = cells;
  const canvas = $("overlay");
  if (!world) return;
  canvas.width = world.width * 8;
  canvas.height = world.height * 8;
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!cells || !$("show-map").checked) return;
  for (const [x, y, object, fixed] of cells) {
    if (object > 0.02) {
      ctx.fillStyle = `rgba(255, 210, 0, ${(0.75 * object).toFixed(3)})`;
      ctx.fillRect(x * 8, y * 8, 8, 8);
    }
    if (fixed > 0.02) {
      ctx.fillStyle = `rgba(0, 200, 255, ${(0.75 * fixed).toFixed(3)})`;
      ctx.fillRect(x * 8 + 2, y * 8 + 2, 4, 4);
    }
  }
}

function drawPlan(parts, current) {
  const list = $("plan");
  list.replaceChildren(...parts.map((part, index) => {
    const item = document.createElement("li");
    item.textContent = part;
    if (current !== null && current !== undefined) {
      if (index < current) item.className = "done";
      if (index === current) item.className = "current";
    }
    return item;
  }));
}

function setVerdict(text) {
  const verdict = $("verdict");
  verdict.textContent = text;
  verdict.className = text.startsWith("success") ? "success" : text.startsWith("failure") ? "failure" : "";
}

function setDone(probability) {
  $("done").value = probability ?? 0;
  $("done-value").textContent = probability === null || probability === undefined ? "–" : probability.toFixed(2);
}

function setPlaying(on) {
  playing = on;
  $("play").textContent = on ? "pause" : "play";
  if (on) schedule(); else clearTimeout(stepTimer);
}

function setField(id, value) {
  if (document.activeElement !== $(id)) $(id).value = value; // never under the user's typing
}

// ---- replies ---------------------------------------------------------------------------------

const handlers = {
  hello(message) {
    $("agent").textContent = message.agent;
    $("games").replaceChildren(...message.games.map((g) => new Option(g)));
    $("corpora").replaceChildren(...message.corpora.map((c) => new Option(c)));
    const d = message.defaults;
    $("game").value = d.game;
    $("corpus").value = d.corpus;
    $("seed").value = d.seed;
    $("seed").max = message.max_seed;
    send(worldRequest({ split: d.split }));
  },

  world(message) {
    world = message;
    clearError();
    setField("game", message.game);
    $("split").replaceChildren(...message.splits.map((s) => new Option(s, s, false, s === message.split)));
    setField("corpus", message.corpus_given);
    setField("seed", message.seed);
    $("grid").src = message.frame;
    $("mission").textContent = message.mission;
    $("description").textContent = message.description;
    $("note").textContent = message.new_to_agent ? `${message.game} is new to the agent (not one of its training games)` : "";
    $("read").textContent = "–";
    $("steps").textContent = "–";
    drawPlan([], null);
    drawTarget(null);
    setDone(null);
    setVerdict("");
  },

  start(message) {
    clearError();
    running = true;
    $("read").textContent = message.read_as.length ? message.read_as.join("; ") : `as typed: '${message.text}'`;
    drawPlan(message.plan, 0);
    $("steps").textContent = `0 / ${message.limit}`;
    $("note").textContent = message.note || "";
    setDone(null);
    setVerdict("running…");
    schedule();
  },

  step(message) {
    $("grid").src = message.frame;
    drawTarget(message.target);
    drawPlan(message.parts, message.part);
    $("steps").textContent = `${message.step} / ${message.limit}` + (message.action ? `  (${message.action})` : "");
    setDone(message.done_prob);
    if (message.verdict) {
      running = false;
      setVerdict(message.verdict);
    } else {
      schedule();
    }
  },

  gif(message) {
    const bytes = Uint8Array.from(atob(message.data), (c) => c.charCodeAt(0));
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([bytes], { type: "image/gif" }));
    link.download = message.name;
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  },

  error(message, request) {
    showError(message.message);
    if (world && request && request.type === "world" && request.worlds === worlds) {
      // the server kept the current world: show its settings again
      $("game").value = world.game;
      $("corpus").value = world.corpus_given;
      $("seed").value = world.seed;
    }
  },
};

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => { $("connection").textContent = "connected"; };
  socket.onclose = () => {
    running = false;
    $("connection").textContent = "disconnected";
    showError("the connection to the server closed. Fix: start 'instructed-rl serve' again and reload the page");
  };
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const request = message.type === "hello" ? null : pending.shift();
    if (request && request.type === "step" && request.epoch !== epoch) return; // a reply to an older run
    if (message.type === "world" && request.worlds !== worlds) return; // a newer world is on its way
    (handlers[message.type] || handlers.error)(message, request);
  };
}

// ---- controls --------------------------------------------------------------------------------

$("world-form").addEventListener("submit", (event) => { event.preventDefault(); send(worldRequest()); });
$("next").addEventListener("click", () => {
  $("seed").value = Number($("seed").value || 0) + 1;
  send(worldRequest());
});
$("game").addEventListener("change", () => send(worldRequest({ split: "" })));
$("split").addEventListener("change", () => send(worldRequest()));
$("corpus").addEventListener("change", () => send(worldRequest()));
$("seed").addEventListener("change", () => send(worldRequest()));

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  send({ type: "run", text: $("instruction").value });
});
$("mission").addEventListener("click", () => {
  $("instruction").value = $("mission").textContent;
  $("instruction").focus();
});
$("play").addEventListener("click", () => setPlaying(!playing));
$("step").addEventListener("click", () => {
  setPlaying(false);
  if (running && !pending.some((r) => r.type === "step")) send({ type: "step" });
});
$("speed").addEventListener("input", () => {
  const speed = Number($("speed").value);
  $("fps").textContent = speed >= MAX_SPEED ? "max" : `${speed} / s`;
});
$("show-map").addEventListener("change", () => drawTarget(lastTarget));
$("gif").addEventListener("click", () => send({ type: "gif" }));

connect();
