// Run once by the mongo image on its first start (empty /data/db), as the root user: creates the user alertbus
// connects as (DATABASE_URL in docker-compose.yml), in the admin database (authSource=admin), allowed to read
// and write the alertbus database only (documents and indexes), nothing else on the server.
const env = process.env;
for (const name of ["ALERTBUS_MONGODB_USER", "ALERTBUS_MONGODB_PASSWORD", "ALERTBUS_MONGODB_DATABASE"]) {
  if (!env[name]) {
    throw new Error(name + " is not set: see docker-compose.yml");
  }
}
db.getSiblingDB("admin").createUser({
  user: env.ALERTBUS_MONGODB_USER,
  pwd: env.ALERTBUS_MONGODB_PASSWORD,
  roles: [{ role: "readWrite", db: env.ALERTBUS_MONGODB_DATABASE }],
});
