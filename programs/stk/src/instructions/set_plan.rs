use anchor_lang::prelude::*;

use crate::{
    constants::{CONFIG_SEED, PLAN_SEED},
    error::StkError,
    events::PlanSet,
    state::{Config, Plan},
    utils::{PdaAccount, PdaCreation},
};

#[event_cpi]
#[derive(Accounts)]
#[instruction(args: SetPlanArgs)]
pub struct SetPlan<'info> {
    #[account(mut)]
    pub admin: Signer<'info>,
    #[account(seeds = [CONFIG_SEED], bump = config.bump, has_one = admin @ StkError::Unauthorized)]
    pub config: Box<Account<'info, Config>>,
    /// CHECK: the plan's `Plan`, created by the handler when missing (the address may already hold
    /// lamports: `utils::create_pda`), loaded and checked as a `Plan` otherwise.
    #[account(mut, seeds = [PLAN_SEED, &args.id.to_le_bytes()], bump)]
    pub plan: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetPlanArgs {
    /// 1..=`MAX_PLAN_ID`.
    pub id: u32,
    /// Access period of one payment, 1..=`MAX_PLAN_PERIOD_SECS` seconds.
    pub period_secs: u64,
    /// The subscription's fiat price in quote base units, > 0.
    pub fiat_price: u64,
    /// Discount for paying in STK, at most `MAX_PLAN_DISCOUNT_BPS`.
    pub discount_bps: u16,
    /// `false` stops new payments for the plan (it can be reactivated).
    pub active: bool,
}

/// Creates or updates an access plan (the admin pays the rent of a new one).
pub fn handler(ctx: Context<SetPlan>, args: SetPlanArgs) -> Result<()> {
    require!(
        Plan::valid_terms(
            args.id,
            args.period_secs,
            args.fiat_price,
            args.discount_bps
        ),
        StkError::InvalidPlan
    );
    let bump = ctx.bumps.plan;
    let mut plan = PdaAccount::<Plan>::init_if_needed(
        PdaCreation {
            payer: ctx.accounts.admin.as_ref(),
            account: ctx.accounts.plan.as_ref(),
            system_program: ctx.accounts.system_program.as_ref(),
        },
        &[PLAN_SEED, &args.id.to_le_bytes(), &[bump]],
    )?;
    plan.id = args.id;
    plan.period_secs = args.period_secs;
    plan.fiat_price = args.fiat_price;
    plan.discount_bps = args.discount_bps;
    plan.active = args.active;
    plan.bump = bump;
    emit_cpi!(PlanSet {
        plan_id: args.id,
        period_secs: args.period_secs,
        fiat_price: args.fiat_price,
        discount_bps: args.discount_bps,
        active: args.active,
        created: plan.created,
    });
    plan.save()
}
