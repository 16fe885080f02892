/* SHA256_Init and friends are deprecated in OpenSSL 3 in favour of EVP,
 * whose start-up is what this file avoids (auth.h); they are still there */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "net.h"

int gf_key_load(const char *path, struct gf_key *key)
{
	memset(key, 0, sizeof(*key));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n;
	size_t len = 0;
	while ((n = read(fd, key->bytes + len, sizeof(key->bytes) - len)) > 0)
		len += (size_t)n;
	int rc = n < 0 ? -errno : 0;
	close(fd);
	if (rc)
		return rc;
	/* A trailing newline from an editor is not part of the key. */
	while (len > 0 && (key->bytes[len - 1] == '\n' || key->bytes[len - 1] == '\r'))
		len--;
	if (len < GF_KEY_MIN)
		return -EINVAL;
	key->len = len;
	return 0;
}

int gf_random(void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void gf_hmac_sha256(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t len,
		    uint8_t out[GF_HMAC_LEN])
{
	enum { BLOCK = 64 };
	uint8_t k[BLOCK] = { 0 }, pad[BLOCK], inner[SHA256_DIGEST_LENGTH];
	SHA256_CTX c;

	if (keylen > BLOCK) { /* a long key is hashed first */
		SHA256_Init(&c);
		SHA256_Update(&c, key, keylen);
		SHA256_Final(k, &c);
	} else if (keylen) {
		memcpy(k, key, keylen);
	}
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, BLOCK);
	SHA256_Update(&c, msg, len);
	SHA256_Final(inner, &c);
	for (int i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, BLOCK);
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&c, sizeof(c));
}

int gf_key_generate(const char *path)
{
	uint8_t raw[32];
	char hex[sizeof(raw) * 2 + 2];
	if (gf_random(raw, sizeof(raw)) < 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(raw); i++) {
		static const char digits[] = "0123456789abcdef";
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[sizeof(raw) * 2] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = gf_write_full(fd, hex, sizeof(raw) * 2 + 1);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc)
		unlink(path);
	return rc;
}

static int mac_compute(const struct gf_key *key, const char *label, const uint8_t *n1,
		       const uint8_t *n2, const uint8_t *extra, size_t extra_len,
		       uint8_t out[GF_MAC_LEN])
{
	uint8_t msg[16 + 2 * GF_NONCE_LEN + 1 + GF_HOST_MAX + 1];
	size_t l = strlen(label);
	size_t len = 0;
	memcpy(msg, label, l);
	len += l;
	memcpy(msg + len, n1, GF_NONCE_LEN);
	len += GF_NONCE_LEN;
	memcpy(msg + len, n2, GF_NONCE_LEN);
	len += GF_NONCE_LEN;
	if (extra_len > sizeof(msg) - len)
		return -EINVAL;
	if (extra_len)
		memcpy(msg + len, extra, extra_len);
	len += extra_len;
	_Static_assert(GF_MAC_LEN == GF_HMAC_LEN, "the MAC is a whole HMAC-SHA256");
	gf_hmac_sha256(key->bytes, key->len, msg, len, out);
	return 0;
}

/* kind byte then host name: binds the claimed identity into the MAC. */
static size_t identity(uint8_t *buf, uint8_t kind, const char *host)
{
	size_t hl = strnlen(host, GF_HOST_MAX);
	buf[0] = kind;
	memcpy(buf + 1, host, hl);
	return hl + 1;
}

/* Send the message encoded in w as a frame of op. */
static int send_msg(int sock, uint16_t op, const struct gf_wbuf *w)
{
	return w->err ? w->err : gf_frame_send(sock, op, 0, 0, w->data, w->len, -1);
}

static int recv_expect(int sock, uint16_t op, struct gf_frame *f)
{
	int rc = gf_frame_recv(sock, f);
	if (rc)
		return rc;
	if (f->hdr.op != op || f->hdr.status != 0 || f->fd >= 0) {
		gf_frame_release(f);
		return -EPROTO;
	}
	return 0;
}

int gf_auth_server(int sock, const struct gf_key *key, uint8_t *peer_kind,
		   char peer_host[GF_HOST_MAX + 1])
{
	struct gf_msg_hello hello;
	struct gf_msg_auth auth;
	struct gf_frame f = { .fd = -1 };
	struct gf_wbuf w;
	uint8_t mac[GF_MAC_LEN], id[GF_HOST_MAX + 2];
	int rc;

	gf_wbuf_init(&w);
	if (gf_random(hello.nonce, GF_NONCE_LEN) < 0)
		return -EIO;
	gf_msg_hello_encode(&w, &hello);
	rc = send_msg(sock, GF_OP_HELLO, &w);
	if (rc)
		goto out;
	rc = recv_expect(sock, GF_OP_AUTH, &f);
	if (rc)
		goto out;
	rc = gf_msg_auth_decode(f.payload, f.hdr.len, &auth);
	if (rc)
		goto out;
	rc = mac_compute(key, "gfarmfs-c", hello.nonce, auth.nonce, id,
			 identity(id, auth.peer_kind, auth.host), mac);
	if (rc)
		goto out;
	if (CRYPTO_memcmp(mac, auth.mac, GF_MAC_LEN) != 0) {
		rc = -EACCES;
		goto out;
	}
	if (auth.peer_kind < GF_PEER_CLIENT || auth.peer_kind > GF_PEER_GFMD) {
		rc = -EPROTO;
		goto out;
	}
	struct gf_msg_auth_ok ok;
	rc = mac_compute(key, "gfarmfs-s", auth.nonce, hello.nonce, NULL, 0, ok.mac);
	if (rc)
		goto out;
	gf_wbuf_reset(&w);
	gf_msg_auth_ok_encode(&w, &ok);
	rc = send_msg(sock, GF_OP_AUTH_OK, &w);
	if (rc)
		goto out;
	*peer_kind = auth.peer_kind;
	memcpy(peer_host, auth.host, GF_HOST_MAX + 1);
out:
	gf_frame_release(&f);
	gf_wbuf_free(&w);
	return rc;
}

int gf_auth_client(int sock, const struct gf_key *key, uint8_t kind, const char *host)
{
	struct gf_msg_hello hello;
	struct gf_msg_auth auth;
	struct gf_msg_auth_ok ok;
	struct gf_frame f = { .fd = -1 };
	struct gf_wbuf w;
	uint8_t mac[GF_MAC_LEN], id[GF_HOST_MAX + 2];
	int rc;

	gf_wbuf_init(&w);
	if (strlen(host) > GF_HOST_MAX)
		return -ENAMETOOLONG;
	rc = recv_expect(sock, GF_OP_HELLO, &f);
	if (rc)
		goto out;
	rc = gf_msg_hello_decode(f.payload, f.hdr.len, &hello);
	gf_frame_release(&f);
	if (rc)
		goto out;
	memset(&auth, 0, sizeof(auth));
	if (gf_random(auth.nonce, GF_NONCE_LEN) < 0) {
		rc = -EIO;
		goto out;
	}
	auth.peer_kind = kind;
	strcpy(auth.host, host);
	rc = mac_compute(key, "gfarmfs-c", hello.nonce, auth.nonce, id,
			 identity(id, kind, host), auth.mac);
	if (rc)
		goto out;
	gf_msg_auth_encode(&w, &auth);
	rc = send_msg(sock, GF_OP_AUTH, &w);
	if (rc)
		goto out;
	rc = recv_expect(sock, GF_OP_AUTH_OK, &f);
	if (rc) {
		/* The server closes on a bad MAC: that is a refusal. */
		if (rc == -ECONNRESET || rc == -EPIPE)
			rc = -EACCES;
		goto out;
	}
	rc = gf_msg_auth_ok_decode(f.payload, f.hdr.len, &ok);
	if (rc)
		goto out;
	rc = mac_compute(key, "gfarmfs-s", auth.nonce, hello.nonce, NULL, 0, mac);
	if (rc)
		goto out;
	if (CRYPTO_memcmp(mac, ok.mac, GF_MAC_LEN) != 0)
		rc = -EACCES;
out:
	gf_frame_release(&f);
	gf_wbuf_free(&w);
	return rc;
}
