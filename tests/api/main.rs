//! Integration tests: the real server over HTTP, on SQLite and PostgreSQL. One binary, so
//! linking happens once.
mod hardening;
mod helpers;
mod history;
mod identity;
mod import;

mod backup;
mod cli;
mod connections;
mod crud;
mod dashboards;
mod demo;
mod errors;
mod lineage;
mod lineage_plain;
mod logs;
mod metrics;
mod n_plus_one;
mod nested_pages;
mod oidc;
mod openlineage;
mod pagination;
mod plain_lists;
mod plans;
mod readme;
mod release;
mod rest;
mod round_trips;
mod schema_file;
mod servers;
mod shutdown;
mod spec;
mod subscriptions;
mod typed_clients;
mod ui;
mod webhooks;
