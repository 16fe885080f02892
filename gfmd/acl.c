/*
 * acl.c — POSIX ACLs (acl.h): the xattr form, validation, the permission
 * algorithm of POSIX.1e as Linux implements it (posix_acl_permission), and
 * what chmod and create do to an ACL.
 */
#include "acl.h"

#include <errno.h>
#include <string.h>

#define ACL_XATTR_VERSION 2
#define HDR_SIZE 4
#define ENTRY_SIZE 8
#define NO_ID 0xffffffffu

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static int tag_known(uint16_t t)
{
	return t == GF_ACL_USER_OBJ || t == GF_ACL_USER || t == GF_ACL_GROUP_OBJ ||
	       t == GF_ACL_GROUP || t == GF_ACL_MASK || t == GF_ACL_OTHER;
}

static int named(uint16_t t)
{
	return t == GF_ACL_USER || t == GF_ACL_GROUP;
}

int gf_acl_parse(const void *buf, size_t len, struct gf_acl *acl)
{
	const uint8_t *p = buf;
	if (len < HDR_SIZE || (len - HDR_SIZE) % ENTRY_SIZE ||
	    (len - HDR_SIZE) / ENTRY_SIZE > GF_ACL_MAX_ENTRIES)
		return -EINVAL;
	if (le32(p) != ACL_XATTR_VERSION)
		return -EINVAL;
	acl->n = (uint32_t)((len - HDR_SIZE) / ENTRY_SIZE);
	int users = 0, groups = 0, has[0x21] = { 0 };
	for (uint32_t i = 0; i < acl->n; i++) {
		const uint8_t *q = p + HDR_SIZE + (size_t)i * ENTRY_SIZE;
		struct gf_acl_entry *e = &acl->e[i];
		e->tag = le16(q);
		e->perm = le16(q + 2);
		e->id = le32(q + 4);
		if (!tag_known(e->tag) || (e->perm & ~7u))
			return -EINVAL;
		if (!named(e->tag))
			e->id = NO_ID;
		/* ascending (tag, id), so duplicates are neighbours */
		if (i > 0) {
			const struct gf_acl_entry *pr = &acl->e[i - 1];
			if (e->tag < pr->tag)
				return -EINVAL;
			if (e->tag == pr->tag && (!named(e->tag) || e->id <= pr->id))
				return -EINVAL;
		}
		has[e->tag]++;
		users += e->tag == GF_ACL_USER;
		groups += e->tag == GF_ACL_GROUP;
	}
	if (has[GF_ACL_USER_OBJ] != 1 || has[GF_ACL_GROUP_OBJ] != 1 || has[GF_ACL_OTHER] != 1)
		return -EINVAL;
	if ((users || groups) != (has[GF_ACL_MASK] == 1))
		return -EINVAL;
	return 0;
}

size_t gf_acl_size(const struct gf_acl *acl)
{
	return HDR_SIZE + (size_t)acl->n * ENTRY_SIZE;
}

int gf_acl_encode(const struct gf_acl *acl, void *buf, size_t size)
{
	size_t need = gf_acl_size(acl);
	if (size < need)
		return -ERANGE;
	uint8_t *p = buf;
	put32(p, ACL_XATTR_VERSION);
	for (uint32_t i = 0; i < acl->n; i++) {
		uint8_t *q = p + HDR_SIZE + (size_t)i * ENTRY_SIZE;
		put16(q, acl->e[i].tag);
		put16(q + 2, acl->e[i].perm);
		put32(q + 4, named(acl->e[i].tag) ? acl->e[i].id : NO_ID);
	}
	return (int)need;
}

static int in_group(const struct gf_cred *cr, uint32_t gid)
{
	if (cr->gid == gid)
		return 1;
	uint32_t n = cr->ngroups < GF_MAX_GROUPS ? cr->ngroups : GF_MAX_GROUPS;
	for (uint32_t i = 0; i < n; i++)
		if (cr->groups[i] == gid)
			return 1;
	return 0;
}

static struct gf_acl_entry *find(struct gf_acl *acl, uint16_t tag)
{
	for (uint32_t i = 0; i < acl->n; i++)
		if (acl->e[i].tag == tag)
			return &acl->e[i];
	return NULL;
}

int gf_acl_permission(const struct gf_acl *acl, const struct gf_cred *cr, uint32_t owner,
		      uint32_t group, int mask)
{
	const struct gf_acl_entry *hit = NULL, *maskent = NULL;
	int group_found = 0;
	uint16_t want = (uint16_t)(mask & 7);

	for (uint32_t i = 0; i < acl->n; i++)
		if (acl->e[i].tag == GF_ACL_MASK)
			maskent = &acl->e[i];
	for (uint32_t i = 0; i < acl->n && !hit; i++) {
		const struct gf_acl_entry *e = &acl->e[i];
		switch (e->tag) {
		case GF_ACL_USER_OBJ:
			if (cr->uid == owner)
				return (e->perm & want) == want ? 0 : -EACCES;
			break;
		case GF_ACL_USER:
			if (cr->uid == e->id)
				hit = e;
			break;
		case GF_ACL_GROUP_OBJ:
		case GF_ACL_GROUP:
			if (in_group(cr, e->tag == GF_ACL_GROUP_OBJ ? group : e->id)) {
				group_found = 1;
				if ((e->perm & want) == want)
					hit = e;
			}
			break;
		case GF_ACL_MASK:
			break;
		case GF_ACL_OTHER:
			if (group_found)
				return -EACCES;
			return (e->perm & want) == want ? 0 : -EACCES;
		}
	}
	if (!hit)
		return -EACCES;
	/* a named user or a group: its rights, as far as the mask allows */
	uint16_t perm = hit->perm & (maskent ? maskent->perm : 7);
	return (perm & want) == want ? 0 : -EACCES;
}

uint32_t gf_acl_mode(const struct gf_acl *acl, int *equiv)
{
	uint32_t mode = 0;
	int extended = 0;
	const struct gf_acl_entry *group_obj = NULL, *maskent = NULL;
	for (uint32_t i = 0; i < acl->n; i++) {
		const struct gf_acl_entry *e = &acl->e[i];
		switch (e->tag) {
		case GF_ACL_USER_OBJ: mode |= (uint32_t)e->perm << 6; break;
		case GF_ACL_GROUP_OBJ: group_obj = e; break;
		case GF_ACL_MASK: maskent = e; extended = 1; break;
		case GF_ACL_OTHER: mode |= e->perm; break;
		default: extended = 1; break;
		}
	}
	/* the group bits show the mask when there is one */
	if (maskent)
		mode |= (uint32_t)maskent->perm << 3;
	else if (group_obj)
		mode |= (uint32_t)group_obj->perm << 3;
	if (equiv)
		*equiv = !extended;
	return mode;
}

void gf_acl_chmod(struct gf_acl *acl, uint32_t mode)
{
	struct gf_acl_entry *u = find(acl, GF_ACL_USER_OBJ), *g = find(acl, GF_ACL_MASK),
			    *o = find(acl, GF_ACL_OTHER);
	if (!g)
		g = find(acl, GF_ACL_GROUP_OBJ);
	if (u)
		u->perm = (uint16_t)((mode >> 6) & 7);
	if (g)
		g->perm = (uint16_t)((mode >> 3) & 7);
	if (o)
		o->perm = (uint16_t)(mode & 7);
}

int gf_acl_inherit(const struct gf_acl *dflt, uint32_t *mode, struct gf_acl *acl)
{
	struct gf_acl_entry *group_obj = NULL, *maskent = NULL;
	uint32_t m = *mode & 0777, newm = *mode & ~(uint32_t)0777;
	*acl = *dflt;
	for (uint32_t i = 0; i < acl->n; i++) {
		struct gf_acl_entry *e = &acl->e[i];
		switch (e->tag) {
		case GF_ACL_USER_OBJ:
			e->perm &= (uint16_t)((m >> 6) & 7);
			newm |= (uint32_t)e->perm << 6;
			break;
		case GF_ACL_GROUP_OBJ: group_obj = e; break;
		case GF_ACL_MASK: maskent = e; break;
		case GF_ACL_OTHER:
			e->perm &= (uint16_t)(m & 7);
			newm |= e->perm;
			break;
		default: break;
		}
	}
	struct gf_acl_entry *g = maskent ? maskent : group_obj;
	if (g) {
		g->perm &= (uint16_t)((m >> 3) & 7);
		newm |= (uint32_t)g->perm << 3;
	}
	*mode = newm;
	int equiv;
	gf_acl_mode(acl, &equiv);
	return !equiv;
}
