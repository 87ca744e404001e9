//! `lastmile-terminal printer`: thermal printer tools.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("printer is not wired yet")
}
