//! `lastmile-terminal scan`: decode codes from images or a serial scanner.

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("scan is not wired yet")
}
