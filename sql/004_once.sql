-- Exactly-once mutations (gfmd/once.h, proto.h GFM_ONCE): a row per
-- request of a client that succeeded and that the client has not yet
-- acknowledged, written in the transaction of the mutation itself, so a
-- copy of the request sent again after a crash of gfmd is answered from it
-- instead of being applied twice. client is the client's random 64-bit id
-- (stored as the bigint of the same bits), ino what the mutation created,
-- linked or opened (0: none), created whether it created it (the creator's
-- open is granted again without a permission check), op its opcode. Rows
-- of clients silent for a day are deleted at start-up.
CREATE TABLE once_reply (
	client bigint NOT NULL,
	seq bigint NOT NULL,
	op integer NOT NULL,
	ino bigint NOT NULL,
	created boolean NOT NULL DEFAULT false,
	at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (client, seq)
);
