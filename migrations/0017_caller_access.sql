-- Who is calling, in one statement: whether the user is active, their current roles, and the
-- committees they head now with each one's geography path. The API asks this on every
-- authenticated request; as its own tenant transaction it took four round trips (begin, bind
-- the tenant, read, commit), here it takes one.
--
-- SECURITY INVOKER: it reads as the application role, under row-level security, after binding
-- the tenant the way every transaction does (set_config(..., true)). Outside a transaction
-- block that binding lasts until this statement ends. Inside one it lasts until the
-- transaction ends, so a transaction already bound to another tenant is refused rather than
-- switched.
CREATE FUNCTION caller_access(tenant uuid, caller uuid)
  RETURNS TABLE (roles text[], headships jsonb)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = public, pg_temp
  AS $$
BEGIN
  IF tenant IS NULL OR caller IS NULL THEN
    RAISE EXCEPTION 'caller_access: tenant and caller are required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF app_current_tenant() IS DISTINCT FROM tenant AND app_current_tenant() IS NOT NULL THEN
    RAISE EXCEPTION 'caller_access: this transaction belongs to another tenant' USING ERRCODE = 'insufficient_privilege';
  END IF;
  PERFORM set_config('app.tenant_id', tenant::text, true);
  RETURN QUERY
    SELECT
      COALESCE((SELECT array_agg(r.role::text ORDER BY r.role) FROM user_roles r WHERE r.user_id = u.id AND r.revoked_at IS NULL), '{}'),
      COALESCE((SELECT jsonb_agg(jsonb_build_object('committeeId', c.id, 'geographyPath', g.path::text) ORDER BY g.path)
                FROM committee_roles cr
                JOIN committees c ON c.id = cr.committee_id AND c.dissolved_at IS NULL
                JOIN geography_nodes g ON g.id = c.geography_id
                WHERE cr.user_id = u.id AND cr.role = 'head' AND cr.valid_from <= now() AND (cr.valid_to IS NULL OR cr.valid_to > now())), '[]')
    FROM users u WHERE u.id = caller AND u.is_active;
END $$;
REVOKE ALL ON FUNCTION caller_access(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION caller_access(uuid, uuid) TO sadasya_app;
