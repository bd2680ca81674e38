-- Teams are synced: every change writes its outbox row, through the shared trigger function
-- (the relay publishes any entity type to that type's topic, `team-events`).
CREATE TRIGGER teams_outbox AFTER INSERT OR UPDATE OR DELETE ON teams FOR EACH ROW EXECUTE FUNCTION record_outbox('TEAM');
