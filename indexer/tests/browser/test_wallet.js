// A Wallet Standard wallet for the browser test: registers itself the standard way and signs with a
// known Ed25519 key through WebCrypto. Injected by the test (WebDriver), never served by the app.
// arguments[0]: the 32-byte secret seed (hex); arguments[1]: the address (base58);
// arguments[2]: the public key (hex).
(async (seedHex, address, pubHex) => {
  if (window.__testWallet) return true; // once per document
  const hex = (h) => Uint8Array.from(h.match(/../g).map((b) => parseInt(b, 16)));
  const pkcs8 = new Uint8Array([...hex('302e020100300506032b657004220420'), ...hex(seedHex)]);
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  const sign = async (bytes) => new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, key, bytes));
  const chains = ['solana:localnet'];
  const account = Object.freeze({
    address, publicKey: hex(pubHex), chains,
    features: ['solana:signMessage', 'solana:signTransaction'],
  });
  window.__testWallet = { signed: [] };
  const wallet = {
    version: '1.0.0',
    name: 'Test Wallet',
    icon: 'data:image/svg+xml;base64,' + btoa('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><rect width="8" height="8" fill="#333"/></svg>'),
    chains,
    accounts: [account],
    features: {
      'standard:connect': { version: '1.0.0', connect: async () => ({ accounts: [account] }) },
      'standard:events': { version: '1.0.0', on: () => () => {} },
      'solana:signMessage': {
        version: '1.0.0',
        signMessage: async (...inputs) => Promise.all(inputs.map(async ({ message }) => {
          window.__testWallet.signed.push('message');
          return { signedMessage: message, signature: await sign(message) };
        })),
      },
      'solana:signTransaction': {
        version: '1.0.0',
        supportedTransactionVersions: ['legacy', 0],
        signTransaction: async (...inputs) => Promise.all(inputs.map(async ({ transaction }) => {
          // [compact-u16 n][n × 64-byte signatures][message]; the fee payer signs first.
          const n = transaction[0];
          if (n !== 1) throw new Error('expected one signer');
          const message = transaction.slice(1 + 64 * n);
          const out = new Uint8Array(transaction);
          out.set(await sign(message), 1);
          window.__testWallet.signed.push('transaction');
          return { signedTransaction: out };
        })),
      },
    },
  };
  const callback = ({ register }) => register(wallet);
  window.dispatchEvent(new CustomEvent('wallet-standard:register-wallet', { detail: callback }));
  window.addEventListener('wallet-standard:app-ready', (e) => callback(e.detail));
  return true;
})(arguments[0], arguments[1], arguments[2]).then(arguments[arguments.length - 1], (e) => arguments[arguments.length - 1]('error: ' + e));
