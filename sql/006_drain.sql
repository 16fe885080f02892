-- Draining hosts (issue 7): a host whose replicas gfmd moves elsewhere and
-- that gets no new data, until it holds none and can be removed
-- (gfhost drain). Kept across gfmd restarts.
ALTER TABLE host ADD COLUMN draining boolean NOT NULL DEFAULT false;
