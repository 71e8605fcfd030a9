-- 0003_pair_code_address.sql — a pair code is bound to the agent address it was issued
-- for (the pairing URL's mailbox=), not only to the protected row: a code issued for
-- bot@example.org under a whole-domain row "@example.org" must not be redeemable by a
-- pair.request to another address of that domain.
ALTER TABLE pair_codes ADD COLUMN address TEXT;  -- the agent address of the pairing URL, lower-case; NULL (codes issued before 0003): any address the mailbox row protects
