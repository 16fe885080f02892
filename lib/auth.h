/*
 * auth.h — shared-secret challenge–response on every connection.
 *
 * Both ends hold the same key file (≥ 32 bytes, mode 0600 expected).
 *   server → HELLO   { s_nonce }
 *   client → AUTH    { c_nonce, HMAC-SHA256(key, "gfarmfs-c" s_nonce c_nonce kind host), kind, host }
 *   server → AUTH_OK { HMAC-SHA256(key, "gfarmfs-s" c_nonce s_nonce) }
 * A wrong MAC closes the connection; the client also checks the server's MAC,
 * so neither side talks to a peer without the key. Nonces come from the
 * kernel (getrandom); MACs are compared in constant time. Room is left for
 * TLS: the handshake runs on a connected socket before any request.
 *
 * Why not RAND_bytes and HMAC(EVP_sha256()): in OpenSSL 3 their first use in
 * a process starts the providers and the random generator, about 1–2 ms of
 * CPU, paid by every gfsched, gfrun or gfls (3.5 ms in all for gfsched).
 * The MAC is HMAC (RFC 2104) over OpenSSL's SHA-256 functions, which need
 * no such start; tests/unit/check_auth checks it against RFC 4231.
 */
#ifndef GF_AUTH_H
#define GF_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define GF_KEY_MIN 32
#define GF_KEY_MAX 4096

struct gf_key {
	size_t len;
	uint8_t bytes[GF_KEY_MAX];
};

/* Read a key file. -EINVAL if shorter than GF_KEY_MIN. */
int gf_key_load(const char *path, struct gf_key *key);
/* Create a new random key file (mode 0600). -EEXIST if it exists. */
int gf_key_generate(const char *path);

/* n random bytes from the kernel's generator into buf: 0 or -errno. */
int gf_random(void *buf, size_t n);
/* HMAC-SHA256 of msg under key (any length). */
#define GF_HMAC_LEN 32
void gf_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
		    uint8_t out[GF_HMAC_LEN]);

/* Server side. On success fills the peer's kind and host name. */
int gf_auth_server(int sock, const struct gf_key *key, uint8_t *peer_kind,
		   char peer_host[GF_HOST_MAX + 1]);
/* Client side. 0, -EACCES when the server refuses or answers with a bad MAC. */
int gf_auth_client(int sock, const struct gf_key *key, uint8_t kind, const char *host);

#endif
