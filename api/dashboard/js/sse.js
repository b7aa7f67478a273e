// Server-sent events over fetch(): EventSource cannot send an Authorization header.
// The stream resumes after the last event id seen (Last-Event-ID), like EventSource does.

import { API, authHeaders, unauthorized } from "./api.js";

/** The text/event-stream format, fed in chunks; push() returns the complete events. */
export class EventParser {
  constructor() {
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.id = null;
    this.retry = null;
  }

  push(chunk) {
    this.buffer += chunk;
    const lines = this.buffer.split("\n");
    this.buffer = lines.pop();  // the part after the last newline is not a line yet
    const events = [];
    for (const raw of lines) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (line === "") {
        if (this.data.length) events.push({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
        this.data = [];
        this.event = "";
        continue;
      }
      if (line.startsWith(":")) continue;  // a comment: the server's keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
      else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
    }
    return events;
  }
}

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Follows `API + path` until the server's final `end` event or close().
 * onEvent(kind, data, id) for each event; onState("live" | "reconnecting" | "ended" | "error").
 */
export function followEvents(path, { lastEventId = null, onEvent, onState = () => {} }) {
  const abort = new AbortController();
  let retry = 2000;
  let last = lastEventId === null ? null : String(lastEventId);

  async function run() {
    while (!abort.signal.aborted) {
      let ended = false;
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (last !== null) headers["Last-Event-ID"] = last;
        const response = await fetch(API + path, { headers, signal: abort.signal, cache: "no-store" });
        if (response.status === 401) unauthorized();
        if (response.status >= 400 && response.status < 500) {
          onState("error");
          return;  // asking again will not help
        }
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        onState("live");
        const parser = new EventParser();
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        while (!ended) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const event of parser.push(value)) {
            if (event.id !== null) last = event.id;
            if (event.event === "end") {
              ended = true;
              break;
            }
            let data = null;
            try {
              data = JSON.parse(event.data);
            } catch {
              data = event.data;
            }
            onEvent(event.event, data, event.id);
          }
          if (parser.retry !== null) retry = parser.retry;
        }
        if (ended) reader.cancel().catch(() => {});
      } catch {
        // a dropped connection (or close()): try again below unless closed
      }
      if (abort.signal.aborted) return;
      if (ended) {
        onState("ended");
        return;
      }
      onState("reconnecting");
      await pause(retry, abort.signal);
    }
  }

  run();
  return {
    close: () => abort.abort(),
    get lastEventId() {
      return last;
    },
  };
}
