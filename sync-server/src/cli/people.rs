//! `lastmile-server users …` and `lastmile-server tokens …`: HQ people and
//! their API tokens, from the server's own shell. The first user created is
//! always an admin; from then on admins can also work in the console.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use lastmile_server::audit::Actor;
use lastmile_server::people::{self, Language, NewUser, Role, tokens};
use lastmile_server::storage::Storage;
use lastmile_server::storage::sql::Page;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (the first one is an admin whatever --role says).
    Add {
        /// Login name: lower-case letters, digits, '.', '-' or '_'.
        username: String,
        /// The name shown in the console and the audit trail.
        #[arg(long)]
        name: String,
        /// What the user may do in the console.
        #[arg(long, value_enum)]
        role: Role,
        /// Console language.
        #[arg(long, value_enum, default_value = "en")]
        language: Language,
        /// File holding the password (at least 12 characters); - reads stdin.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
    },
    /// List users, one JSON object per line.
    List,
    /// Disable a user: sessions end, tokens are revoked.
    Disable {
        /// Whom to disable.
        username: String,
    },
    /// Set a user's password (also lifts a lockout).
    Password {
        /// Whose password.
        username: String,
        /// File holding the new password; - reads stdin.
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user and print it (shown only this once).
    Create {
        /// Whose token: it acts with this user's role.
        #[arg(long)]
        user: String,
        /// What the token is for, e.g. "nightly export".
        #[arg(long)]
        label: String,
    },
    /// Revoke a token by its number.
    Revoke {
        /// The token's number (the part after `lmt_`).
        id: i64,
    },
}

fn read_password(path: &Path) -> Result<String> {
    let mut text = String::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(1024)
            .read_to_string(&mut text)
            .context("reading the password from stdin")?;
    } else {
        text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the password from {}", path.display()))?;
    }
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

pub fn users(storage: &Storage, command: UsersCommand, now: i64) -> Result<()> {
    let actor = Actor::operator();
    match command {
        UsersCommand::Add {
            username,
            name,
            role,
            language,
            password_file,
        } => {
            let password = read_password(&password_file)?;
            let user = people::create_user(
                storage,
                &actor,
                &NewUser {
                    username: &username,
                    display_name: &name,
                    role,
                    language,
                    password: &password,
                },
                now,
            )?;
            if user.role != role.code() {
                eprintln!("{} is the first user, so an admin", user.username);
            }
            println!("{}", serde_json::to_string(&user)?);
        }
        UsersCommand::List => {
            let mut page = Page::first(lastmile_server::storage::sql::PAGE_ROWS_MAX);
            loop {
                let users = people::list_users(storage, page)?;
                for user in &users {
                    println!("{}", serde_json::to_string(user)?);
                }
                if users.len() < page.limit as usize {
                    break;
                }
                page.offset += u64::from(page.limit);
            }
        }
        UsersCommand::Disable { username } => {
            people::disable_user(storage, &actor, &username, now)?;
            println!("{username} disabled");
        }
        UsersCommand::Password {
            username,
            password_file,
        } => {
            let password = read_password(&password_file)?;
            people::set_password(storage, &actor, &username, &password, now)?;
            println!("password of {username} set");
        }
    }
    Ok(())
}

pub fn tokens(storage: &Storage, command: TokensCommand, now: i64) -> Result<()> {
    let actor = Actor::operator();
    match command {
        TokensCommand::Create { user, label } => {
            let created = tokens::create(storage, &actor, &user, &label, now)?;
            println!("{}", created.token);
        }
        TokensCommand::Revoke { id } => {
            tokens::revoke(storage, &actor, id, None, now)?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}
