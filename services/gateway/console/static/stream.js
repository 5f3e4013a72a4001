// The live feed: Server-Sent Events read with fetch() and a ReadableStream, not EventSource, because
// EventSource cannot send an Authorization header and the credential must never appear in a URL (URLs end up
// in logs, history and Referer headers). So the reconnecting EventSource would do is done here: honour the
// server's "retry:", back off after failures, treat a stream silent for three heartbeats as dead, and ask the
// page to reload its data after any gap (events sent while disconnected are not replayed).

import {authHeaders, events, url} from "./api.js";

const SILENCE_MS = 45000;  // the server sends a comment every 15 s
const MAX_DELAY_MS = 30000;

export class LiveStream {
  constructor({onAlert, onResync, onState}) {
    this.onAlert = onAlert;
    this.onResync = onResync;
    this.onState = onState;
    this.retry = 2000;
    this.stopped = true;
    this.controller = null;
    this.failures = 0;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.generation = (this.generation || 0) + 1;
    this.failures = 0;
    this.loop(this.generation);
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  // One loop per start(): a loop still sleeping out a back-off when the stream is stopped and started again
  // (sign-out, sign-in) ends instead of running beside the new one.
  async loop(generation) {
    let hadGap = false;
    while (!this.stopped && generation === this.generation) {
      this.controller = new AbortController();
      let reason = "the live stream ended";
      try {
        const response = await fetch(url("stream"), {
          headers: {Accept: "text/event-stream", ...authHeaders()}, signal: this.controller.signal,
          cache: "no-store", credentials: "omit",
        });
        if (!response.ok || !response.body) {
          reason = `the live stream was refused (HTTP ${response.status})`;
          if (response.status === 401 || response.status === 403) this.onState("denied", reason);
        } else {
          await this.read(response.body, () => {
            this.failures = 0;
            this.onState("live");
            if (hadGap) this.onResync("reconnected");
            hadGap = true;
          });
        }
      } catch (error) {
        reason = error.name === "AbortError" ? "the live stream went silent" : "the server cannot be reached";
      }
      if (this.stopped || generation !== this.generation) return;
      this.failures += 1;
      this.onState("down", reason, this.failures);
      const delay = Math.min(this.retry * 2 ** Math.min(this.failures - 1, 5), MAX_DELAY_MS);
      await new Promise((resolve) => setTimeout(resolve, delay * (0.75 + Math.random() / 2)));
    }
  }

  async read(body, onReady) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let timer = setTimeout(() => this.controller.abort(), SILENCE_MS);
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) return;
        clearTimeout(timer);
        timer = setTimeout(() => this.controller.abort(), SILENCE_MS);
        buffer += value.replace(/\r\n?/g, "\n");
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.dispatch(block, onReady);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  dispatch(block, onReady) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;  // a comment: the server's heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    }
    if (!data.length) return;
    let payload;
    try {
      payload = JSON.parse(data.join("\n"));
    } catch {
      return;
    }
    if (name === "ready") onReady();
    else if (name === "alert") this.onAlert(payload);
    else if (name === "resync") this.onResync("the server asked for a reload");
    else if (name === "broker-down") this.onState("broker-down", "the message broker is unreachable");
    else if (name === "unauthorized") events.dispatchEvent(new Event("unauthorized"));  // the key was revoked
  }
}
