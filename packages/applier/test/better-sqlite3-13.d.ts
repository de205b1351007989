// The compatibility test loads better-sqlite3 13.x (Node-API) under an npm alias; same API.
declare module 'better-sqlite3-13' {
  import Database from 'better-sqlite3';
  export default Database;
}
