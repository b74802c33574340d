//! Creating the program's accounts at addresses that may already hold lamports.
//!
//! Every account this program creates lives at an address anyone can compute, so anyone can send a few
//! lamports there first. Anchor 1.2's `init` then creates the account with the system instruction
//! `CreateAccountAllowPrefund` (SIMD-0312), which a runtime without that feature refuses: the address
//! would be blocked for good. This module creates the account with instructions every runtime has:
//!
//! * no lamports at the address: `create_account` (rent-exempt minimum, `space`, `owner`);
//! * lamports already there: `transfer` of the shortfall to the rent-exempt minimum (nothing when the
//!   address already holds at least that), then `allocate` and `assign`, both signed with the PDA's seeds.
//!
//! Lamports sent to the address beforehand are not lost: they stay in the created account (which then
//! holds more than the rent-exempt minimum). Every creating instruction goes through [`PdaCreation`].
use anchor_lang::{
    prelude::*,
    system_program::{self, Allocate, Assign, CreateAccount, Transfer},
    Discriminator,
};

use crate::error::StkError;

/// The accounts taking part in creating one PDA: the payer (a signer of the transaction), the new
/// account, and the system program.
pub struct PdaCreation<'a, 'info> {
    pub payer: &'a AccountInfo<'info>,
    pub account: &'a AccountInfo<'info>,
    pub system_program: &'a AccountInfo<'info>,
}

impl<'info> PdaCreation<'_, 'info> {
    /// Whether the account still has to be created (owned by the system program, no data).
    pub fn is_uncreated(&self) -> bool {
        *self.account.owner == system_program::ID && self.account.data_is_empty()
    }

    /// Creates the account (`space` bytes, owned by `owner`, rent-exempt) at the PDA of `seeds` (the last
    /// seed is the bump), whether or not the address already holds lamports. Refuses an address where an
    /// account already exists (`AddressInUse`).
    pub fn create(&self, space: usize, owner: &Pubkey, seeds: &[&[u8]]) -> Result<()> {
        require!(self.is_uncreated(), StkError::AddressInUse);
        require_keys_neq!(self.payer.key(), self.account.key(), StkError::AddressInUse);
        let signer: &[&[&[u8]]] = &[seeds];
        let required = Rent::get()?.minimum_balance(space).max(1);
        let current = self.account.lamports();
        let program = self.system_program.key();
        if current == 0 {
            let accounts = CreateAccount {
                from: self.payer.clone(),
                to: self.account.clone(),
            };
            return system_program::create_account(
                CpiContext::new_with_signer(program, accounts, signer),
                required,
                space as u64,
                owner,
            );
        }
        // Prefunded: top up to the rent-exempt minimum (the prefund stays), then allocate and assign.
        let shortfall = required.saturating_sub(current);
        if shortfall > 0 {
            let accounts = Transfer {
                from: self.payer.clone(),
                to: self.account.clone(),
            };
            system_program::transfer(CpiContext::new(program, accounts), shortfall)?;
        }
        let accounts = Allocate {
            account_to_allocate: self.account.clone(),
        };
        system_program::allocate(
            CpiContext::new_with_signer(program, accounts, signer),
            space as u64,
        )?;
        let accounts = Assign {
            account_to_assign: self.account.clone(),
        };
        system_program::assign(
            CpiContext::new_with_signer(program, accounts, signer),
            owner,
        )
    }
}

/// A program-owned account of type `T` created by (or loaded in) the handler rather than by Anchor's
/// `init`/`init_if_needed`. Changes are written back by [`PdaAccount::save`]; the handler calls it once
/// it has made them (nothing is persisted otherwise).
pub struct PdaAccount<'info, T> {
    info: AccountInfo<'info>,
    state: Box<T>,
    /// The account was created by this instruction (its fields are all zero until the handler sets them).
    pub created: bool,
}

impl<'info, T> PdaAccount<'info, T>
where
    T: AccountSerialize + AccountDeserialize + Discriminator + Owner + Space,
{
    /// The account's size: discriminator + `T::INIT_SPACE`.
    pub const SPACE: usize = T::DISCRIMINATOR.len() + T::INIT_SPACE;

    /// Creates the account (see [`PdaCreation::create`]); refuses an address where it already exists.
    pub fn init(new: PdaCreation<'_, 'info>, seeds: &[&[u8]]) -> Result<Self> {
        new.create(Self::SPACE, &T::owner(), seeds)?;
        let info = new.account.clone();
        // A freshly allocated account is all zeros: every field starts at zero / false.
        let state = {
            let data = info.try_borrow_data()?;
            Box::new(T::try_deserialize_unchecked(&mut &data[..])?)
        };
        Ok(Self {
            info,
            state,
            created: true,
        })
    }

    /// Loads the account, creating it first when it does not exist yet (the address may hold lamports).
    pub fn init_if_needed(new: PdaCreation<'_, 'info>, seeds: &[&[u8]]) -> Result<Self> {
        if new.is_uncreated() {
            return Self::init(new, seeds);
        }
        let info = new.account.clone();
        require_keys_eq!(
            *info.owner,
            T::owner(),
            ErrorCode::AccountOwnedByWrongProgram
        );
        require_eq!(info.data_len(), Self::SPACE, ErrorCode::ConstraintSpace);
        let state = {
            let data = info.try_borrow_data()?;
            Box::new(T::try_deserialize(&mut &data[..])?)
        };
        Ok(Self {
            info,
            state,
            created: false,
        })
    }

    /// Writes the state (with its discriminator) into the account.
    pub fn save(&self) -> Result<()> {
        let mut data = self.info.try_borrow_mut_data()?;
        let mut dst: &mut [u8] = &mut data;
        self.state.try_serialize(&mut dst)
    }

    pub fn key(&self) -> Pubkey {
        *self.info.key
    }
}

impl<T> std::ops::Deref for PdaAccount<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.state
    }
}

impl<T> std::ops::DerefMut for PdaAccount<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.state
    }
}
