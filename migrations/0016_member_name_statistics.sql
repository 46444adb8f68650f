-- A name filter is planned from the estimated share of members whose name matches: for a
-- common surname the planner walks the newest-first index and checks names until it has a
-- page; for a rare name it reads the trigram matches and sorts them. With the default
-- statistics target the estimate comes from a histogram of 100 sampled names, so a surname
-- borne by 1.6% of members matched 0 to 3 of them: measured over four ANALYZE runs at 300,000
-- members, "Sharma" (4,855 members) was estimated at 3,028, 6,050, 6,003 and 229; on the 229
-- run the planner read and sorted all its members (26 ms at 300,000, 90 ms at 1,000,000)
-- instead of walking (6 ms). With 1,000 sampled names the estimate held at 3,723 on every run.
-- The cost is a longer ANALYZE of members (a 300,000-row sample instead of 30,000).
ALTER TABLE members
  ALTER COLUMN full_name_en SET STATISTICS 1000,
  ALTER COLUMN full_name_ne SET STATISTICS 1000;
