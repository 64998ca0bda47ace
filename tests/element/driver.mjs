// An Element-grade Matrix client for the pytest suite: matrix-js-sdk with its Rust crypto
// (the SDK Element Web uses), driven over JSON lines on stdin/stdout.
//
//   request:  {"id": 1, "cmd": "login", ...}
//   answer:   {"id": 1, "ok": true, "result": ...}  or  {"id": 1, "ok": false, "error": "..."}
//
// stdout carries only answers; the SDK's own logging goes to stderr.
import { createInterface } from "node:readline";
import { webcrypto } from "node:crypto";

const out = process.stdout.write.bind(process.stdout);
for (const name of ["log", "info", "debug", "warn", "error", "trace"]) {
  console[name] = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");
}

const sdk = await import("matrix-js-sdk");
const cryptoApi = await import("matrix-js-sdk/lib/crypto-api/index.js");
const { logger } = await import("matrix-js-sdk/lib/logger.js");
logger.setLevel(process.env.DRIVER_SDK_LOG || "warn");

let client = null;
let userId = null;
let password = null;
const secretKeys = new Map(); // secret storage key id -> private key bytes (as Element caches it)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + (timeoutMs ?? 30000);
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function b64decode(text) {
  const normal = text.replace(/-/g, "+").replace(/_/g, "/");
  return Buffer.from(normal + "=".repeat((4 - (normal.length % 4)) % 4), "base64");
}

async function describe(event) {
  if (event.isEncrypted() || event.getWireType() === "m.room.encrypted") {
    await client.decryptEventIfNeeded(event);
  }
  const content = event.getContent();
  const failed = event.isDecryptionFailure();
  let shield = null;
  if (event.isEncrypted() && !failed) {
    const info = await client.getCrypto().getEncryptionInfoForEvent(event);
    shield = info
      ? {
          colour: cryptoApi.EventShieldColour[info.shieldColour],
          reason: info.shieldReason === null ? null : cryptoApi.EventShieldReason[info.shieldReason],
        }
      : null;
  }
  return {
    event_id: event.getId(),
    sender: event.getSender(),
    type: event.getType(),
    encrypted: event.isEncrypted(),
    decryption_failure: failed ? event.decryptionFailureReason : null,
    msgtype: failed ? null : content.msgtype ?? null,
    body: failed ? null : content.body ?? null,
    file: failed ? null : content.file ?? null,
    shield,
  };
}

async function roomEvents(roomId, sender) {
  const room = client.getRoom(roomId);
  if (!room) return [];
  const events = room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => (!sender || e.getSender() === sender))
    .filter((e) => ["m.room.message", "m.room.encrypted"].includes(e.getWireType()));
  const described = [];
  for (const event of events) described.push(await describe(event));
  return described;
}

const commands = {
  async login({ homeserver, user_id, password: pw, device_name, isolation, bootstrap, secret_storage }) {
    userId = user_id;
    password = pw;
    const bootstrapClient = sdk.createClient({ baseUrl: homeserver });
    const session = await bootstrapClient.loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: user_id },
      password: pw,
      initial_device_display_name: device_name ?? "Element (test)",
    });
    client = sdk.createClient({
      baseUrl: homeserver,
      userId: session.user_id,
      deviceId: session.device_id,
      accessToken: session.access_token,
      cryptoCallbacks: {
        getSecretStorageKey: async ({ keys }) => {
          for (const keyId of Object.keys(keys)) {
            if (secretKeys.has(keyId)) return [keyId, secretKeys.get(keyId)];
          }
          return null;
        },
        cacheSecretStorageKey: (keyId, _info, key) => secretKeys.set(keyId, key),
      },
    });
    await client.initRustCrypto({ useIndexedDB: false });
    const crypto = client.getCrypto();
    if (isolation === "only_signed") {
      crypto.setDeviceIsolationMode(new cryptoApi.OnlySignedDevicesIsolationMode());
    } else {
      crypto.setDeviceIsolationMode(new cryptoApi.AllDevicesIsolationMode(false));
    }
    await client.startClient({ initialSyncLimit: 50, lazyLoadMembers: true });
    await until("first sync", () => client.isInitialSyncComplete(), 30000);
    if (bootstrap) {
      // What Element does on first login: cross-signing (password UIA), then secret storage
      // holding the cross-signing keys, with a recovery key.
      await crypto.bootstrapCrossSigning({
        authUploadDeviceSigningKeys: async (makeRequest) => {
          await makeRequest({
            type: "m.login.password",
            identifier: { type: "m.id.user", user: userId },
            password,
          });
        },
      });
      if (secret_storage !== false) {
        await crypto.bootstrapSecretStorage({
          createSecretStorageKey: async () => crypto.createRecoveryKeyFromPassphrase(),
          setupNewSecretStorage: true,
        });
      }
    }
    return {
      user_id: session.user_id,
      device_id: session.device_id,
      cross_signing_ready: await crypto.isCrossSigningReady(),
    };
  },

  async set_blacklist_unverified({ value }) {
    client.getCrypto().globalBlacklistUnverifiedDevices = Boolean(value);
    return null;
  },

  async create_dm({ invitee }) {
    // Element's "Start chat": trusted private chat, direct, encrypted from the first event,
    // and the room recorded in m.direct.
    const { room_id } = await client.createRoom({
      preset: "trusted_private_chat",
      is_direct: true,
      invite: [invitee],
      initial_state: [
        { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
      ],
    });
    const direct = client.getAccountData("m.direct")?.getContent() ?? {};
    direct[invitee] = [...(direct[invitee] ?? []), room_id];
    await client.setAccountData("m.direct", direct);
    await until("the room in sync", () => client.getRoom(room_id), 30000);
    return { room_id };
  },

  async join({ room_id, timeout_ms }) {
    await until("the invite", () => client.getRoom(room_id), timeout_ms);
    await client.joinRoom(room_id);
    await until("the join", () => client.getRoom(room_id)?.getMyMembership() === "join", timeout_ms);
    return null;
  },

  async invites() {
    return client.getRooms().filter((r) => r.getMyMembership() === "invite").map((r) => r.roomId);
  },

  async wait_member({ room_id, user_id, timeout_ms }) {
    await until(
      `${user_id} to join`,
      () => client.getRoom(room_id)?.getMember(user_id)?.membership === "join",
      timeout_ms,
    );
    return null;
  },

  async send({ room_id, body }) {
    const { event_id } = await client.sendMessage(room_id, { msgtype: "m.text", body });
    return { event_id };
  },

  async react({ room_id, event_id, key }) {
    const result = await client.sendEvent(room_id, "m.reaction", {
      "m.relates_to": { rel_type: "m.annotation", event_id, key },
    });
    return { event_id: result.event_id };
  },

  async messages({ room_id, sender }) {
    return roomEvents(room_id, sender);
  },

  // Wait until at least `count` messages from `sender` exist and (when given) one of those
  // after index `after` has a body containing `contains`; decryption is retried meanwhile.
  async wait_messages({ room_id, sender, count, after, contains, timeout_ms }) {
    let last = [];
    try {
      return await until(
        `${count ?? ""} messages ${contains ? `containing ${JSON.stringify(contains)}` : ""}`,
        async () => {
          last = await roomEvents(room_id, sender);
          if (count && last.length < count) return null;
          if (contains && !last.slice(after ?? 0).some((m) => (m.body ?? "").includes(contains))) {
            return null;
          }
          return last;
        },
        timeout_ms,
      );
    } catch (error) {
      throw new Error(`${error.message}; have ${JSON.stringify(last.slice(after ?? 0))}`);
    }
  },

  async account_data({ type }) {
    return client.getAccountData(type)?.getContent() ?? null;
  },

  async device_verified({ user_id, device_id }) {
    const status = await client.getCrypto().getDeviceVerificationStatus(user_id, device_id);
    return status
      ? { cross_signing_verified: status.crossSigningVerified, signed_by_owner: status.signedByOwner }
      : null;
  },

  async download({ file }) {
    // Encrypted attachment: AES-256-CTR with the JWK key, checked against its SHA-256.
    const [, serverName, mediaId] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(file.url);
    const response = await fetch(
      `${client.baseUrl}/_matrix/client/v1/media/download/${serverName}/${mediaId}`,
      { headers: { Authorization: `Bearer ${client.getAccessToken()}` } },
    );
    if (!response.ok) throw new Error(`download: HTTP ${response.status}`);
    const data = new Uint8Array(await response.arrayBuffer());
    const digest = Buffer.from(await webcrypto.subtle.digest("SHA-256", data));
    if (digest.toString("base64").replace(/=+$/, "") !== file.hashes.sha256.replace(/=+$/, "")) {
      throw new Error("download: SHA-256 mismatch");
    }
    const key = await webcrypto.subtle.importKey("raw", b64decode(file.key.k), "AES-CTR", false, [
      "decrypt",
    ]);
    const plain = await webcrypto.subtle.decrypt(
      { name: "AES-CTR", counter: b64decode(file.iv), length: 64 },
      key,
      data,
    );
    return { base64: Buffer.from(plain).toString("base64") };
  },

  async stop() {
    client?.stopClient();
    setTimeout(() => process.exit(0), 50);
    return null;
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  // One request at a time, in order: the Python side awaits each answer.
  try {
    const handler = commands[request.cmd];
    if (!handler) throw new Error(`unknown command ${request.cmd}`);
    const result = await handler(request);
    out(JSON.stringify({ id: request.id, ok: true, result: result ?? null }) + "\n");
  } catch (error) {
    out(JSON.stringify({ id: request.id, ok: false, error: String(error?.stack ?? error) }) + "\n");
  }
}
client?.stopClient();
process.exit(0);
