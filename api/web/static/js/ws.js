// Subscriptions over WebSocket at /graphql, protocol graphql-transport-ws: connection_init
// carries {authorization: "Bearer <token>"} (what the server's on_ws_connect reads), then
// one `subscribe`; `next` messages until `complete`. One socket per subscription: the app
// follows one import at a time.

import { ApiError } from "./api.js";
import { accessToken } from "./session.js";

const PROTOCOL = "graphql-transport-ws";

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}

function errorOf(errors) {
  const first = (Array.isArray(errors) ? errors[0] : errors) || {};
  const extensions = first.extensions || {};
  return new ApiError(first.message || "subscription failed", {
    messageZh: extensions.messageZh || null,
    code: extensions.code || null,
  });
}

/**
 * Subscribe; `onNext(data)` for each event, then `onComplete()` or `onError(error)`.
 * Returns a function that stops the subscription.
 */
export function subscribe(query, variables, { onNext, onError, onComplete }) {
  let socket = null;
  let finished = false;
  const finish = (callback, value) => {
    if (finished) return;
    finished = true;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000);
    if (callback) callback(value);
  };

  (async () => {
    const token = await accessToken();
    if (finished) return;
    socket = new WebSocket(socketUrl(), PROTOCOL);
    socket.addEventListener("open", () => {
      socket.send(
        JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }),
      );
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      switch (message.type) {
        case "connection_ack":
          socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query, variables } }));
          break;
        case "ping":
          socket.send(JSON.stringify({ type: "pong" }));
          break;
        case "next":
          if (message.payload.errors && message.payload.errors.length) {
            finish(onError, errorOf(message.payload.errors));
          } else {
            onNext(message.payload.data);
          }
          break;
        case "error":
          finish(onError, errorOf(message.payload));
          break;
        case "complete":
          finish(onComplete);
          break;
        default:
          break;
      }
    });
    socket.addEventListener("close", (event) => {
      // Closed by the server before `complete`: refused (4403) or the connection dropped.
      finish(onError, new ApiError(event.reason || `connection closed (${event.code})`, { code: event.code }));
    });
  })().catch((error) => finish(onError, error));

  return () => {
    if (finished) return;
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ id: "1", type: "complete" }));
    }
    finish(null);
  };
}
