//! User creation throughput through the store (each create is one transaction with its audit
//! event), on SQLite and, when `GATEHOUSE_BENCH_PG_PORT` names a local PostgreSQL with a trusted
//! `postgres` superuser, on PostgreSQL. Prints figures; never passes or fails.
//!
//! `cargo bench -p gatehouse-store --bench create_users` (see bench/README.md).

use gatehouse_core::{AuditContext, NewUser, UserStore};
use gatehouse_store::{DatabaseSettings, PostgresSettings, SqlStore, SslMode};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USERS: usize = 2_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let sqlite = SqlStore::connect(&DatabaseSettings::Sqlite {
        path: dir.path().join("bench.db"),
    })
    .await?;
    sqlite.migrate().await?;
    run("sqlite", sqlite).await?;

    match std::env::var("GATEHOUSE_BENCH_PG_PORT") {
        Ok(port) => {
            let admin = PostgresSettings {
                host: "127.0.0.1".into(),
                port: port.parse()?,
                user: "postgres".into(),
                password: None,
                database: "postgres".into(),
                sslmode: SslMode::Disable,
                sslrootcert: None,
                max_connections: 16,
                connect_timeout: Duration::from_secs(5),
            };
            let name = format!("gh_bench_{}", std::process::id());
            gatehouse_store::create_postgres_database(&admin, &name).await?;
            let pg = SqlStore::connect(&DatabaseSettings::Postgres(PostgresSettings {
                database: name,
                ..admin
            }))
            .await?;
            pg.migrate().await?;
            run("postgresql", pg).await?;
        }
        Err(_) => println!("postgresql: skipped (set GATEHOUSE_BENCH_PG_PORT)"),
    }
    Ok(())
}

async fn run(backend: &str, store: SqlStore) -> Result<(), Box<dyn std::error::Error>> {
    let audit = AuditContext::system();
    let started = Instant::now();
    for i in 0..USERS {
        store.create_user(user(&format!("seq{i}")), &audit).await?;
    }
    let sequential = USERS as f64 / started.elapsed().as_secs_f64();

    let store = Arc::new(store);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let audit = AuditContext::system();
            for i in 0..USERS / 16 {
                store
                    .create_user(user(&format!("par{worker}-{i}")), &audit)
                    .await?;
            }
            Ok::<_, gatehouse_core::StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let concurrent = USERS as f64 / started.elapsed().as_secs_f64();
    println!(
        "{backend}: {sequential:.0} users/s sequential, {concurrent:.0} users/s with 16 concurrent writers ({USERS} users each)"
    );
    Ok(())
}

fn user(name: &str) -> NewUser {
    NewUser {
        email: Some(format!("{name}@example.com")),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into()),
        ..NewUser::named(name)
    }
}
