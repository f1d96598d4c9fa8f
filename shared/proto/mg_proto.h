/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mg_proto.h
 * @brief The control<->dataplane wire protocol.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET, one message per datagram. Every message
 * is a header (struct mg_proto_hdr) followed by a fixed-size body whose size
 * depends only on (type, request-or-reply). All integers are little-endian
 * on the wire; addresses and keys are byte strings (addresses in network
 * order). The structs below are the wire layout (packed, offsets asserted);
 * mg_proto_encode() and mg_proto_decode() convert byte order and validate
 * every field, so a process never acts on a message it has not checked.
 *
 * Versioning: MG_PROTO_VERSION is bumped on every incompatible change (any
 * change of a size, field meaning or enum value). The first exchange on a
 * connection is HELLO: the client sends its version and the size of every
 * message type it knows, the server answers with its own table and refuses
 * (result -EPROTO, then closes) if anything differs; both sides log which
 * type differs. Until HELLO succeeded, the server answers -EPROTO to
 * anything else.
 *
 * Replies carry the request's type and request id with MG_PROTO_F_REPLY set
 * and an errno-style result (0 or negative). A reply with result < 0 has
 * either no body or (HELLO only) a full body.
 */
#ifndef MG_PROTO_H
#define MG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_srtp_suite.h"
#include "mg_tdm_limits.h" /* MG_TDM_MAX_CHANNO: DAHDI's channel numbers */

/** Bumped on every incompatible change of this file. */
#define MG_PROTO_VERSION 3

/** Largest datagram (header + body) either side sends. */
#define MG_PROTO_MAX_MSG 4096

#define MG_PROTO_F_REPLY 0x0001u /**< header flag: this is a reply */

/** Message types. Values travel on the wire: never renumber, only append. */
enum mg_msg_type {
	MG_MSG_HELLO = 1,          /**< mg_msg_hello -> mg_msg_hello */
	MG_MSG_PING = 2,           /**< mg_msg_ping -> mg_msg_pong */
	MG_MSG_PORT_ALLOC = 3,     /**< mg_msg_port_alloc -> mg_msg_port */
	MG_MSG_PORT_FREE = 4,      /**< mg_msg_port -> (empty) */
	MG_MSG_SESSION_ADD = 5,    /**< mg_msg_session -> mg_msg_session_id */
	MG_MSG_SESSION_MODIFY = 6, /**< mg_msg_session -> mg_msg_session_id */
	MG_MSG_SESSION_DEL = 7,    /**< mg_msg_session_id -> mg_msg_session_stats (final) */
	MG_MSG_SESSION_GET = 8,    /**< mg_msg_session_id -> mg_msg_session (keys redacted) */
	MG_MSG_SESSION_LIST = 9,   /**< mg_msg_session_list_req -> mg_msg_session_list */
	MG_MSG_SESSION_STATS = 10, /**< mg_msg_session_id -> mg_msg_session_stats */
	MG_MSG_FORK_ADD = 11,      /**< mg_msg_fork -> mg_msg_fork_id */
	MG_MSG_FORK_DEL = 12,      /**< mg_msg_fork_id -> (empty) */
	MG_MSG_DP_STATS = 13,      /**< (empty) -> mg_msg_dp_stats */
	MG_MSG_TDM_BIND = 14,      /**< mg_msg_tdm_bind -> (empty) */
	MG_MSG_TDM_UNBIND = 15,    /**< mg_msg_tdm_chan -> mg_msg_tdm_stats (final) */
	MG_MSG_CAPTURE_START = 16, /**< mg_msg_capture -> (empty) */
	MG_MSG_CAPTURE_STOP = 17,  /**< mg_msg_session_id -> mg_msg_capture_stats (final) */
	MG_MSG_SHARED_ADDR = 18,   /**< mg_msg_shared_addr -> mg_msg_shared_addr (state) */
	MG_MSG_TYPE_COUNT
};

/** Message header, 24 bytes. */
struct mg_proto_hdr {
	uint16_t version;  /**< MG_PROTO_VERSION of the sender */
	uint16_t type;     /**< enum mg_msg_type */
	uint16_t flags;    /**< MG_PROTO_F_* */
	uint16_t reserved; /**< 0 */
	uint32_t req_id;   /**< chosen by the requester, echoed in the reply */
	int32_t result;    /**< replies: 0 or -errno; requests: 0 */
	uint32_t length;   /**< body bytes following the header */
	uint32_t reserved2; /**< 0 */
} __attribute__((packed));

/* ---------------------------------------------------------------- HELLO */

/** Who is speaking. */
enum mg_proto_role {
	MG_ROLE_CONTROL = 1,
	MG_ROLE_DATAPLANE = 2,
	MG_ROLE_TOOL = 3, /**< mediagate-dpctl, tests */
};

#define MG_PROTO_MAX_TYPES 32

/** Size of one message type's request and reply bodies. */
struct mg_msg_size {
	uint16_t type;
	uint16_t reserved;
	uint32_t req_size;
	uint32_t rep_size;
} __attribute__((packed));

/** HELLO body (both directions). */
struct mg_msg_hello {
	uint32_t version;   /**< MG_PROTO_VERSION */
	uint32_t role;      /**< enum mg_proto_role */
	uint32_t pid;
	uint32_t hdr_size;  /**< sizeof(struct mg_proto_hdr) */
	uint32_t n_types;   /**< valid entries in sizes[] */
	uint32_t reserved;
	char software[32];  /**< "mediagate-dataplane 0.1.0", NUL-terminated */
	struct mg_msg_size sizes[MG_PROTO_MAX_TYPES];
} __attribute__((packed));

/* ----------------------------------------------------------------- PING */

struct mg_msg_ping {
	uint64_t seq;
	uint64_t sent_ns; /**< requester's clock, echoed */
} __attribute__((packed));

struct mg_msg_pong {
	uint64_t seq;       /**< echoed */
	uint64_t sent_ns;   /**< echoed */
	uint64_t uptime_ns; /**< dataplane uptime */
	uint32_t n_sessions;
	uint32_t n_workers;
} __attribute__((packed));

/* ------------------------------------------------------------ addresses */

/** Address families on the wire (not the host's AF_* values). */
enum mg_proto_family {
	MG_FAMILY_NONE = 0, /**< unset / unknown yet */
	MG_FAMILY_IPV4 = 4,
	MG_FAMILY_IPV6 = 6,
};

/** An IP address and UDP port. IPv4 uses addr[0..3], addr[4..15] are 0. */
struct mg_msg_addr {
	uint8_t family;   /**< enum mg_proto_family */
	uint8_t reserved;
	uint16_t port;    /**< host value (little-endian on the wire) */
	uint8_t addr[16]; /**< network byte order */
} __attribute__((packed));

/* ---------------------------------------------------------------- ports */

#define MG_PORT_F_RTCP_MUX 0x01u /**< RTCP on the RTP port: allocate one port */

/** PORT_ALLOC request: local media ports from mediagate.media.portRange. */
struct mg_msg_port_alloc {
	struct mg_msg_addr local; /**< family required; addr all-zero = dataplane's
	                               first address of that family; port 0 = the
	                               dataplane picks, else that (even) port of the
	                               range, -EADDRINUSE if taken (re-install after a
	                               dataplane restart; a dataplane that predates it
	                               refuses with -EINVAL) */
	uint8_t flags;            /**< MG_PORT_F_* */
	uint8_t reserved[7];
} __attribute__((packed));

/** PORT_ALLOC reply and PORT_FREE request. */
struct mg_msg_port {
	struct mg_msg_addr local; /**< local address, port = RTP port (even) */
	uint16_t rtcp_port;       /**< RTP port + 1, or the RTP port with rtcp-mux */
	uint8_t flags;            /**< MG_PORT_F_* */
	uint8_t reserved[5];
} __attribute__((packed));

/* ------------------------------------------------------------- sessions */

/** SRTP lifetime used when a direction gives 0: 2^48 packets (RFC 3711). */
#define MG_SRTP_DEFAULT_LIFETIME (1ull << 48)
#define MG_PROTO_MAX_KEY 32
#define MG_PROTO_MAX_SALT 14
#define MG_PROTO_MAX_MKI 4
#define MG_PROTO_MAX_CANDIDATES 4
#define MG_PROTO_MAX_FORKS 4

#define MG_CRYPTO_F_ROC_RESET 0x01u /**< MODIFY: restart ROC at `roc` even if keys are unchanged */
/**
 * ADD (re-install after a dataplane restart): the stream's first SSRC
 * starts at highest index (`roc`, `seq`) instead of "not seen yet", so its
 * next packet's index is estimated as RFC 3711 App. A does (a wrap since
 * is caught). A bit in an existing field: a dataplane that predates it
 * refuses the session by name ("unknown crypto flags").
 */
#define MG_CRYPTO_F_SEQ 0x02u

/**
 * One direction's SRTP/SRTCP parameters. suite NONE = plain RTP/RTCP and
 * every length 0. Otherwise key_len and salt_len equal the suite's lengths
 * (mg_srtp_suite.h); bytes past the lengths are 0.
 */
struct mg_msg_crypto {
	uint8_t suite;     /**< enum mg_srtp_suite */
	uint8_t key_len;   /**< master key bytes */
	uint8_t salt_len;  /**< master salt bytes */
	uint8_t mki_len;   /**< 0..MG_PROTO_MAX_MKI bytes of MKI on the wire */
	uint8_t flags;     /**< MG_CRYPTO_F_* */
	uint8_t reserved[3];
	uint8_t mki[MG_PROTO_MAX_MKI]; /**< MKI value, network order, mki_len bytes */
	uint32_t roc;      /**< initial rollover counter (re-install after restart) */
	uint64_t lifetime; /**< packets per master key; 0 = MG_SRTP_DEFAULT_LIFETIME */
	uint8_t key[MG_PROTO_MAX_KEY];
	uint8_t salt[MG_PROTO_MAX_SALT];
	uint16_t seq;      /**< with MG_CRYPTO_F_SEQ: highest sequence number (s_l) at `roc`;
	                        else 0 (was reserved) */
} __attribute__((packed));

/** Source policy of a leg (SPEC §5). */
enum mg_source_policy {
	MG_SOURCE_LATCH = 0,  /**< learn the source from the first valid packet (SRTP:
	                           authenticated), then accept only it (SPEC 12) */
	MG_SOURCE_STRICT = 1, /**< only remote/candidates; the first to send wins */
};

#define MG_LEG_F_RTCP_MUX 0x01u /**< RTCP shares the RTP port (RFC 5761) */
/**
 * media-handover: a latching leg's learned source may move (SPEC 12): on an
 * SRTP leg to a new source whose packet authenticated, on a plain leg to a
 * new source once the current one was silent for the dataplane's
 * mediagate.media.handoverSilenceMs. Without it a learned source is kept for
 * the life of the leg. Ignored by the strict policy. (A bit added to an
 * existing field: no size changes; a dataplane that predates it refuses the
 * session by name, "unknown flags", instead of silently not honouring it.)
 */
#define MG_LEG_F_HANDOVER 0x02u
/** What this leg receives is not forwarded to the other leg (NG "block
 * media"): still authenticated, latched, counted and forked (recording),
 * then dropped as MG_DROP_BLOCKED. */
#define MG_LEG_F_BLOCK 0x04u

/**
 * One leg: what arrives on `local` from the remote is `rx`; what the
 * dataplane sends from `local` to the remote is `tx`. Packets received on
 * leg 0 leave on leg 1 and vice versa; the transform is implied by the
 * suites (rx SRTP -> decrypt, tx SRTP -> encrypt, both -> re-key, neither ->
 * pass-through).
 */
struct mg_msg_leg {
	struct mg_msg_addr local;  /**< local IP and RTP port (RTCP = port+1 unless mux) */
	struct mg_msg_addr remote; /**< remote RTP address; family NONE = not known yet */
	struct mg_msg_addr candidates[MG_PROTO_MAX_CANDIDATES]; /**< RFC 3960 extra sources */
	uint16_t remote_rtcp_port; /**< 0 = remote.port + 1 (or remote.port with mux) */
	uint8_t n_candidates;      /**< used entries of candidates[] */
	uint8_t source_policy;     /**< enum mg_source_policy */
	uint8_t flags;             /**< MG_LEG_F_* */
	uint8_t reserved[3];
	struct mg_msg_crypto rx;   /**< to decrypt what the remote sends */
	struct mg_msg_crypto tx;   /**< to encrypt what we send to the remote */
} __attribute__((packed));

/**
 * SESSION_ADD / SESSION_MODIFY request and SESSION_GET reply. MODIFY
 * replaces the whole definition; the dataplane keeps a direction's SRTP
 * state (ROC, replay window) when its suite, key, salt and MKI are unchanged
 * and MG_CRYPTO_F_ROC_RESET is clear, and a leg's learned source (latch, or
 * the strict winner) when its remote, remote RTCP port, rtcp-mux flag,
 * candidates and source policy are unchanged (else the leg learns again).
 * GET replies with keys and salts zeroed (lengths kept) and, as a leg's
 * remote, the source it learned.
 */
struct mg_msg_session {
	uint64_t id;       /**< chosen by control, non-zero, unique */
	uint32_t flags;    /**< none defined yet: 0 */
	uint32_t reserved;
	struct mg_msg_leg legs[2];
} __attribute__((packed));

/** SESSION_DEL / GET / STATS request, SESSION_ADD / MODIFY reply. */
struct mg_msg_session_id {
	uint64_t id;
} __attribute__((packed));

#define MG_PROTO_LIST_PAGE 64

struct mg_msg_session_list_req {
	uint64_t cursor; /**< 0 = from the start, else next_cursor of the previous page */
	uint32_t max;    /**< 1..MG_PROTO_LIST_PAGE */
	uint32_t reserved;
} __attribute__((packed));

struct mg_msg_session_list_entry {
	uint64_t id;
	uint16_t local_port[2]; /**< legs' local RTP ports */
	uint8_t suite[2][2];    /**< [leg][0 = rx, 1 = tx] */
} __attribute__((packed));

struct mg_msg_session_list {
	uint64_t next_cursor; /**< opaque; 0 = no more pages */
	uint32_t count;       /**< valid entries */
	uint32_t total;       /**< sessions installed */
	struct mg_msg_session_list_entry entries[MG_PROTO_LIST_PAGE];
} __attribute__((packed));

/** Why a packet was dropped. Values travel on the wire: append only. */
enum mg_drop_reason {
	MG_DROP_AUTH = 0,        /**< SRTP/SRTCP authentication failed */
	MG_DROP_REPLAY,          /**< replayed or too old */
	MG_DROP_UNKNOWN_DEST,    /**< no session for this local address/port */
	MG_DROP_SOURCE_MISMATCH, /**< not the leg's source: strict, not an SDP source;
	                              latch, not the learned one */
	MG_DROP_MALFORMED,       /**< not a valid IP/UDP/RTP/RTCP packet */
	MG_DROP_NO_NEIGHBOUR,    /**< next hop's MAC not resolved */
	MG_DROP_TX_FULL,         /**< transmit queue/ring full */
	MG_DROP_KEY_EXPIRED,     /**< master key lifetime reached */
	MG_DROP_MKI,             /**< unknown MKI */
	MG_DROP_NO_MBUF,         /**< no buffer for a copy or header */
	MG_DROP_OTHER,
	MG_DROP_BLOCKED,         /**< the leg is blocked (NG block media) */
	MG_DROP_REASON_COUNT
};

/** Wire slots for drop reasons (>= MG_DROP_REASON_COUNT). */
#define MG_PROTO_DROP_SLOTS 16

/** Counters of one leg in one direction. */
struct mg_msg_dir_stats {
	uint64_t packets;      /**< RTP+RTCP packets accepted (rx) or sent (tx) */
	uint64_t bytes;        /**< UDP payload bytes */
	uint64_t rtcp_packets; /**< of which RTCP */
	uint64_t drops[MG_PROTO_DROP_SLOTS]; /**< by enum mg_drop_reason */
	uint32_t roc;          /**< current SRTP rollover counter */
	uint16_t seq;          /**< highest sequence number (s_l) at `roc`, if seq_valid */
	uint8_t seq_valid;     /**< 1: roc/seq are the stream's highest index (SRTP, a
	                            packet seen); 0: unknown (was reserved: a dataplane
	                            that predates it says 0) */
	uint8_t reserved;
	uint32_t rr_ssrc;      /**< rx: the SSRC the party's last RTCP receiver report
	                            (SR or RR, first block) was about; 0 = none yet */
	uint32_t rr_lost;      /**< its fraction lost (top 8 bits) and cumulative
	                            packets lost (24 bits), host order */
	uint32_t rr_jitter;    /**< its interarrival jitter, RTP timestamp units */
} __attribute__((packed));

struct mg_msg_fork_stats {
	uint32_t fork_id; /**< 0 = unused slot */
	uint32_t reserved;
	uint64_t packets;
	uint64_t bytes;
	uint64_t drops;
} __attribute__((packed));

/** SESSION_STATS reply, SESSION_DEL reply (final counters). */
struct mg_msg_session_stats {
	uint64_t id;
	struct mg_msg_dir_stats legs[2][2]; /**< [leg][0 = rx, 1 = tx] */
	struct mg_msg_fork_stats forks[MG_PROTO_MAX_FORKS];
} __attribute__((packed));

/* ---------------------------------------------------------------- forks */

#define MG_FORK_F_RAW 0x01u  /**< copy packets as received (crypto must be NONE) */
#define MG_FORK_F_RTCP 0x02u /**< copy RTCP too (to remote.port + 1) */

/**
 * FORK_ADD request: copy the stream received on `leg` to `remote`, sent from
 * `local`; plain (crypto NONE), re-encrypted with `crypto`, or raw.
 */
struct mg_msg_fork {
	uint64_t session_id;
	uint32_t fork_id;  /**< chosen by control, non-zero, unique in the session */
	uint8_t leg;       /**< 0 or 1 */
	uint8_t flags;     /**< MG_FORK_F_* */
	uint8_t reserved[2];
	struct mg_msg_addr local;
	struct mg_msg_addr remote;
	struct mg_msg_crypto crypto;
} __attribute__((packed));

/** FORK_ADD reply, FORK_DEL request. */
struct mg_msg_fork_id {
	uint64_t session_id;
	uint32_t fork_id;
	uint32_t reserved;
} __attribute__((packed));

/* ------------------------------------------------------------- dp stats */

#define MG_PROTO_MAX_WORKERS 16

struct mg_msg_worker_stats {
	uint32_t lcore;
	uint32_t preempted; /**< polling loops that took over 100 us (the worker was
	                         preempted; their time is not busy time), modulo 2^32.
	                         Was a reserved 0: a dataplane that predates it says 0 */
	uint64_t packets;  /**< packets processed */
	uint64_t busy_tsc; /**< TSC cycles spent on non-empty polls */
	uint64_t polls;
	uint64_t idle_polls;
} __attribute__((packed));

/** DP_STATS reply: whole-dataplane counters. */
struct mg_msg_dp_stats {
	uint64_t uptime_ns;
	uint64_t tsc_hz;
	uint32_t n_sessions;
	uint32_t n_workers;
	uint32_t n_ports;
	uint32_t ports_used; /**< ports of mediagate.media.portRange allocated now (an RTP
	                          and its RTCP port count 2). Was a reserved 0: a dataplane
	                          that predates it says 0 */
	uint64_t rx_packets;
	uint64_t tx_packets;
	uint64_t arp_rx;
	uint64_t arp_tx;
	uint64_t icmp_echo;
	uint64_t drops[MG_PROTO_DROP_SLOTS]; /**< not attributable to a session */
	struct mg_msg_worker_stats workers[MG_PROTO_MAX_WORKERS];
	/* mediagate.dataplane.orphanTimeout (version 2): what was removed because
	 * no control plane connected within the time after the last one left */
	uint64_t orphans_removed;      /**< sessions */
	uint64_t orphan_ports_removed; /**< RTP ports (a pair counts once) */
	uint32_t orphan_sweeps;        /**< times it happened */
	uint32_t control_connected;    /**< 1: a control plane is connected (HELLO done) */
	/* (version 3) SRTP contexts keep one SSRC's state inside and take room
	 * for three more from a pool at their second SSRC (docs/srtp.md,
	 * "Memory per context") */
	uint64_t ssrc_rooms;       /**< rooms the pool has (maxSessions x 8 + 1024) */
	uint64_t ssrc_rooms_used;  /**< rooms contexts hold now */
	uint64_t ssrc_rooms_empty; /**< times a context found none: it went on with one
				        SSRC state (its least recently used SSRC gives it up) */
	/* (version 3) a session's drop counters are a block taken at its first
	 * drop (docs/dataplane.md, "Memory per session") */
	uint64_t drop_blocks;       /**< blocks the pool has (maxSessions x 3 + 1024) */
	uint64_t drop_blocks_used;  /**< held by sessions that dropped a packet */
	uint64_t drop_blocks_empty; /**< drops that found none: counted in drops[] above */
} __attribute__((packed));

/* ------------------------------------------------------------------ TDM */

#define MG_TDM_F_ECHO_CANCEL 0x01u /**< run the line echo canceller on this channel */

/**
 * TDM_BIND request: carry DAHDI channel `channo` over session `session_id`.
 * Leg `leg` faces the RTP peer (its rx/tx crypto apply); the other leg is
 * the TDM side: a leg on a port of ours (PORT_ALLOC) with plain crypto and
 * the latch source policy, which the TDM thread uses to inject its packets.
 */
struct mg_msg_tdm_bind {
	uint64_t session_id;
	uint32_t channo;   /**< 1..MG_TDM_MAX_CHANNO */
	uint8_t leg;       /**< 0 or 1 */
	uint8_t law;       /**< codec of the call: 0 = PCMU, 1 = PCMA */
	uint8_t pt;        /**< its RTP payload type, 0..127 */
	uint8_t event_pt;  /**< telephone-event payload type 96..127, 0 = none */
	uint32_t ssrc;     /**< SSRC of what the TDM side sends */
	uint8_t flags;     /**< MG_TDM_F_* */
	uint8_t reserved[11];
} __attribute__((packed));

/** TDM_UNBIND request. */
struct mg_msg_tdm_chan {
	uint32_t channo;
	uint32_t reserved;
} __attribute__((packed));

/** TDM_UNBIND reply: the channel's media counters. */
struct mg_msg_tdm_stats {
	uint32_t channo;
	uint32_t reserved;
	uint64_t tdm_frames_in;   /**< frames read from the channel */
	uint64_t rtp_audio_out;   /**< G.711 packets sent toward RTP */
	uint64_t rtp_event_out;   /**< RFC 4733 packets sent */
	uint64_t digits_detected;
	uint64_t rtp_in;          /**< RTP packets received for the channel */
	uint64_t digits_played;
	uint64_t tdm_frames_out;  /**< frames written to the channel */
	uint64_t concealed;       /**< jitter buffer concealment frames */
	uint64_t drops;           /**< packets dropped (ring full, malformed, late...) */
} __attribute__((packed));

/* -------------------------------------------------------------- capture */

#define MG_CAPTURE_F_DECRYPTED 0x01u /**< also write what an SRTP leg received, decrypted */
#define MG_CAPTURE_MAX_PATH 256

/**
 * CAPTURE_START request: write session `session_id`'s packets (both legs,
 * both directions, as on the wire) to the pcapng file `path`, which the
 * dataplane creates (it must not exist). The path is absolute and
 * NUL-terminated; the dataplane also requires it to be inside its
 * mediagate.capture.dir (docs/operations.md "Capture").
 */
struct mg_msg_capture {
	uint64_t session_id;
	uint32_t flags;    /**< MG_CAPTURE_F_* */
	uint32_t reserved;
	char path[MG_CAPTURE_MAX_PATH];
} __attribute__((packed));

/** CAPTURE_STOP reply: what the capture wrote and lost. */
struct mg_msg_capture_stats {
	uint64_t session_id;
	uint64_t packets;         /**< packets written to the file */
	uint64_t bytes;           /**< their captured bytes */
	uint64_t drops_ring_full; /**< copies lost: the writer's ring was full */
	uint64_t drops_no_mbuf;   /**< copies lost: no capture buffer */
	uint64_t write_errors;    /**< packets the file write failed for */
} __attribute__((packed));

/* ------------------------------------------------- shared media address */

#define MG_SHARED_F_SET 0x01u /**< request: set the state to `on` (else only read it) */

/**
 * SHARED_ADDR (docs/standby.md): the ports' mediagate.dataplane.port.N.
 * sharedAddress, the media address an active/standby pair shares, is
 * owned (ARP and ICMP answered, packets to it taken) only while `on`.
 * Turning it on sends a gratuitous ARP for it on its port. The reply is
 * the state after the request.
 */
struct mg_msg_shared_addr {
	uint8_t flags;     /**< request: MG_SHARED_F_*; reply: 0 */
	uint8_t on;        /**< request with MG_SHARED_F_SET: 0 or 1; reply: the state */
	uint8_t n_ports;   /**< reply: ports that have a shared address */
	uint8_t reserved[5];
	uint64_t garps;    /**< reply: gratuitous ARPs sent since start */
} __attribute__((packed));

/* ------------------------------------------------- layout is the contract */

#define MG_PROTO_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t " wire size changed: bump MG_PROTO_VERSION")
#define MG_PROTO_ASSERT_OFF(t, f, n) _Static_assert(offsetof(t, f) == (n), #t "." #f " moved: bump MG_PROTO_VERSION")
MG_PROTO_ASSERT_SIZE(struct mg_proto_hdr, 24);
MG_PROTO_ASSERT_OFF(struct mg_proto_hdr, type, 2);
MG_PROTO_ASSERT_OFF(struct mg_proto_hdr, req_id, 8);
MG_PROTO_ASSERT_OFF(struct mg_proto_hdr, result, 12);
MG_PROTO_ASSERT_OFF(struct mg_proto_hdr, length, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_size, 12);
MG_PROTO_ASSERT_SIZE(struct mg_msg_hello, 440);
MG_PROTO_ASSERT_OFF(struct mg_msg_hello, software, 24);
MG_PROTO_ASSERT_OFF(struct mg_msg_hello, sizes, 56);
MG_PROTO_ASSERT_SIZE(struct mg_msg_ping, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_pong, 32);
MG_PROTO_ASSERT_SIZE(struct mg_msg_addr, 20);
MG_PROTO_ASSERT_OFF(struct mg_msg_addr, addr, 4);
MG_PROTO_ASSERT_SIZE(struct mg_msg_port_alloc, 28);
MG_PROTO_ASSERT_SIZE(struct mg_msg_port, 28);
MG_PROTO_ASSERT_SIZE(struct mg_msg_crypto, 72);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, mki, 8);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, roc, 12);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, lifetime, 16);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, key, 24);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, salt, 56);
MG_PROTO_ASSERT_OFF(struct mg_msg_crypto, seq, 70);
MG_PROTO_ASSERT_SIZE(struct mg_msg_leg, 272);
MG_PROTO_ASSERT_OFF(struct mg_msg_leg, candidates, 40);
MG_PROTO_ASSERT_OFF(struct mg_msg_leg, remote_rtcp_port, 120);
MG_PROTO_ASSERT_OFF(struct mg_msg_leg, rx, 128);
MG_PROTO_ASSERT_OFF(struct mg_msg_leg, tx, 200);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session, 560);
MG_PROTO_ASSERT_OFF(struct mg_msg_session, legs, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session_id, 8);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session_list_req, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session_list_entry, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session_list, 1040);
MG_PROTO_ASSERT_SIZE(struct mg_msg_dir_stats, 172);
MG_PROTO_ASSERT_OFF(struct mg_msg_dir_stats, drops, 24);
MG_PROTO_ASSERT_OFF(struct mg_msg_dir_stats, seq, 156);
MG_PROTO_ASSERT_SIZE(struct mg_msg_fork_stats, 32);
MG_PROTO_ASSERT_SIZE(struct mg_msg_session_stats, 824);
MG_PROTO_ASSERT_OFF(struct mg_msg_session_stats, forks, 696);
MG_PROTO_ASSERT_SIZE(struct mg_msg_fork, 128);
MG_PROTO_ASSERT_OFF(struct mg_msg_fork, crypto, 56);
MG_PROTO_ASSERT_SIZE(struct mg_msg_fork_id, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_worker_stats, 40);
MG_PROTO_ASSERT_SIZE(struct mg_msg_dp_stats, 912);
MG_PROTO_ASSERT_SIZE(struct mg_msg_tdm_bind, 32);
MG_PROTO_ASSERT_OFF(struct mg_msg_tdm_bind, ssrc, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_tdm_chan, 8);
MG_PROTO_ASSERT_SIZE(struct mg_msg_tdm_stats, 80);
MG_PROTO_ASSERT_SIZE(struct mg_msg_capture, 272);
MG_PROTO_ASSERT_OFF(struct mg_msg_capture, path, 16);
MG_PROTO_ASSERT_SIZE(struct mg_msg_capture_stats, 48);
MG_PROTO_ASSERT_SIZE(struct mg_msg_shared_addr, 16);
_Static_assert(MG_DROP_REASON_COUNT <= MG_PROTO_DROP_SLOTS, "too many drop reasons for the wire");
_Static_assert(MG_MSG_TYPE_COUNT <= MG_PROTO_MAX_TYPES, "too many message types for HELLO");
_Static_assert(MG_SRTP_SUITE_COUNT <= 256, "suite must fit a byte");

/* ------------------------------------------------------------------ API */

/** Name of a message type ("SESSION_ADD"), "?" if unknown. */
const char *mg_proto_type_name(unsigned type);

/** Name of a drop reason ("auth", "replay", ...), "?" if unknown. */
const char *mg_proto_drop_name(unsigned reason);

/**
 * Body size of a message type: request (reply == false) or reply. Returns
 * -EPROTO for an unknown type. Sizes may be 0 (empty body).
 */
int mg_proto_body_size(unsigned type, bool reply);

/**
 * Encode header + body into @p buf. @p body is the host struct named in
 * enum mg_msg_type for (type, reply) (NULL for an empty body or for an error
 * reply without body); it is validated first. Returns the datagram length,
 * -EINVAL for a bad field (see mg_proto_last_error()), -EPROTO for an
 * unknown type, -EMSGSIZE if @p buflen is too small.
 */
int mg_proto_encode(void *buf, size_t buflen, unsigned type, uint16_t flags, uint32_t req_id,
		    int32_t result, const void *body);

/**
 * Decode and validate the header of a received datagram of @p len bytes.
 * Returns 0, -EPROTO (short header, other version, unknown type, reserved
 * bits set) or -EMSGSIZE (body length is not the size of this type).
 * On -EPROTO for a version mismatch, @p hdr is still filled.
 */
int mg_proto_decode_hdr(const void *buf, size_t len, struct mg_proto_hdr *hdr);

/**
 * Decode a whole datagram: header into @p hdr, body (host byte order,
 * validated) into @p body of @p body_size bytes (which must be at least the
 * body size; unused when the body is empty). Returns 0, or -EPROTO/-EMSGSIZE
 * as mg_proto_decode_hdr(), or -EINVAL for a bad field.
 */
int mg_proto_decode(const void *buf, size_t len, struct mg_proto_hdr *hdr, void *body,
		    size_t body_size);

/** Field validators (host byte order), 0 or -EINVAL with mg_proto_last_error() set. */
int mg_proto_check_addr(const struct mg_msg_addr *a, bool need_port, const char *what);
int mg_proto_check_crypto(const struct mg_msg_crypto *c, const char *what);
int mg_proto_check_session(const struct mg_msg_session *s);
int mg_proto_check_fork(const struct mg_msg_fork *f);

/** Why the last encode/decode/check in this thread failed (static string). */
const char *mg_proto_last_error(void);

/** Fill a HELLO body with this build's version and size table. */
void mg_proto_hello_init(struct mg_msg_hello *h, enum mg_proto_role role, const char *software);

/**
 * Compare a peer's HELLO with this build. Returns 0 if compatible, else
 * -EPROTO and writes one line per difference into @p why.
 */
int mg_proto_hello_check(const struct mg_msg_hello *peer, char *why, size_t why_len);

/** Text of an address ("192.0.2.1:4000", "[2001:db8::1]:4000"). */
const char *mg_proto_addr_str(const struct mg_msg_addr *a, char *buf, size_t len);

/**
 * Parse "IP", "IP:PORT", "[IPv6]:PORT" or "IPv6" into @p a. Returns 0 or
 * -EINVAL.
 */
int mg_proto_addr_parse(const char *s, struct mg_msg_addr *a);

#endif
