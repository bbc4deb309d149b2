/* help.c: the table of slq's commands with their usage lines and help texts. The names,
 * flags and exit codes are a contract (issue 3, docs/cli.md): scripts depend on them. */
#include "cli.h"

const char cli_global_help[] =
    "usage: slq [--node URL] [--json] COMMAND [ARGS]\n"
    "\n"
    "The command-line client of slq, the ledger of compute vouchers (算力券). Keys stay on\n"
    "this machine: transactions are signed here and sent to the node's HTTP API.\n"
    "\n"
    "Keys and networks:\n"
    "  keygen     write a new key file and print its address\n"
    "  address    print the address of a key file (also keys made by openssl genpkey)\n"
    "  testnet    write a ready local network (node homes, genesis, demo keys)\n"
    "Transactions (signed with --key, wait for their block unless --no-wait):\n"
    "  register   the issuer registers a party\n"
    "  issue      the issuer issues a voucher (发放)\n"
    "  transfer   a holder pays a centre or an intermediary passes a voucher on (使用/流转)\n"
    "  redeem     a centre redeems vouchers against a service contract (兑现)\n"
    "  review     finance or the regulator approves or rejects a claim (审核)\n"
    "  settle     the finance bureau pays an approved claim (拨付/核销)\n"
    "  revoke     the issuer cancels a voucher (追回/撤销)\n"
    "  apply      a holder applies for a voucher against a compute contract (申领)\n"
    "  reject     the issuer turns an application down (审核不通过)\n"
    "Queries:\n"
    "  account    a party: role, name, committed and pending nonces, a nonce gap\n"
    "  balance    active vouchers of an address and their total\n"
    "  vouchers   every voucher an address holds, expired ones included\n"
    "  voucher    one voucher with its lineage\n"
    "  tx         a transaction and its result\n"
    "  block      a block (the latest without HEIGHT)\n"
    "  claims     redemption claims, of one centre with --centre\n"
    "  applications  applications, of one holder or in one status\n"
    "  status     the node: chain, height, validators\n"
    "  audit      the regulator's report of a budget year; verify-report checks a signed one\n"
    "\n"
    "Global flags: --node URL (default $SLQ_NODE, else " CLI_DEFAULT_NODE "), --json.\n"
    "Amounts are yuan with at most two decimals (1200, 12.50); dates are China Standard Time.\n"
    "Exit codes: 0 success; 1 bad usage or input (nothing was sent); 2 refused by the node or\n"
    "the ledger (the reason is printed); 3 node unreachable, overloaded or timed out.\n"
    "Help on one command: slq COMMAND --help.\n";

#define TX_HELP                                                                                \
    "  --key FILE             the signer's PEM key (PKCS#8; openssl genpkey keys work too)\n"  \
    "  --passphrase-env VAR   read the key's passphrase from environment variable VAR\n"       \
    "  --no-wait              return once the node accepted the transaction\n"                 \
    "Prints \"committed at height H\", the tx hash and what the transaction created. With\n"   \
    "--json: {\"tx\", \"status\", \"height\", \"error\", \"vouchers\", \"claim\"}, and\n"      \
    "\"application\" when the transaction opened one (apply).\n"                               \
    "Exit 2 when the ledger rejects it (the reason is printed), 3 when it is not in a block\n" \
    "within 30 s or the node cannot be reached.\n"

const cli_command cli_commands[] = {
    {"keygen", cli_cmd_keygen, "keygen --out FILE [--suite ed25519|sm2] [--passphrase-env VAR]",
     "Writes a new PKCS#8 PEM private key to FILE (mode 0600; an existing FILE is never\n"
     "overwritten) and prints its address. --suite: ed25519 (Ed25519 + SHA-256, the default)\n"
     "or sm2 (国密 SM2 + SM3); it must be the suite of the chain that will use the key.\n"
     "--passphrase-env VAR encrypts the file (AES-256-CBC) with the passphrase in VAR.\n"
     "With --json: {\"address\", \"suite\", \"key_file\"}.\n"},
    {"address", cli_cmd_address, "address --key FILE [--passphrase-env VAR]",
     "Prints the address of the key in FILE: slq1 followed by 40 hex digits. The suite is\n"
     "the key's own (Ed25519 -> SHA-256, SM2 -> SM3), so keys made with\n"
     "`openssl genpkey -algorithm ed25519` or `-algorithm SM2` work too.\n"
     "With --json: {\"address\", \"suite\", \"key_file\"}.\n"},
    {"testnet", cli_cmd_testnet,
     "testnet --validators N --out DIR [--base-port P] [--suite ed25519|sm2] [--cap YUAN]\n"
     "           [--policy-from YYYY-MM-DD]",
     "Writes a ready local network into DIR (created; refused if it exists and is not\n"
     "empty): DIR/node0 .. DIR/node{N-1}, each with genesis.json (the same for all),\n"
     "node.pem (its validator key) and config.json (node i: p2p 127.0.0.1:P+2i, API\n"
     "127.0.0.1:P+2i+1; P defaults to 7600), and DIR/keys/ with issuer.pem, finance.pem,\n"
     "regulator.pem, centre-1.pem, centre-2.pem, intermediary.pem, holder-1.pem .. holder-3.pem.\n"
     "Genesis registers every party but the holders (register them with slq register) and\n"
     "holds the Chengdu programs general, national-major and provincial-major.\n"
     "  --cap YUAN             the city's annual cap (default 10000000)\n"
     "  --policy-from DATE     first day of the three-year policy window (default today, CST)\n"},
    {"register", cli_cmd_register,
     "register --key ISSUER_KEY --address ADDR --role ROLE --name NAME [--credit-code C]\n"
     "           [--affiliation GROUP]",
     "The issuer registers a party. ROLE: centre, finance, enterprise, maker, research,\n"
     "university, intermediary or regulator (issuers exist only through genesis).\n"
     "--credit-code C: the party's 18-character unified social credit code (统一社会信用代码,\n"
     "GB 32100-2015), required for enterprise, maker, research, university and intermediary\n"
     "(a maker registers as the legal person it is, or through one). slq checks its\n"
     "characters and check character (lower case is read as upper case) and sends only the\n"
     "hash of the upper-case code under the chain's hash function. The ledger registers each\n"
     "code to one account (CREDIT_CODE_USED names the account that has it), so the per-holder\n"
     "caps bind a party, not an address. --affiliation GROUP: parties of the same group are\n"
     "related (a holder may not pay a centre of its own group).\n" TX_HELP},
    {"issue", cli_cmd_issue,
     "issue --key ISSUER_KEY --to ADDR --amount YUAN --program NAME [--cost YUAN]\n"
     "           [--expires YYYY-MM-DD|--expires-ms MS] [--ref TEXT]\n"
     "       slq issue --key ISSUER_KEY --application ID [--amount YUAN] [--expires ...]",
     "The issuer issues a voucher of YUAN to a registered holder or intermediary, under a\n"
     "program of the policy (presets: general, national-major, provincial-major). Programs\n"
     "that require applications (presets: national-major, provincial-major) issue only\n"
     "against one: --application ID grants it to the applicant, with the application's\n"
     "program and cost, for YUAN (default: the amount asked, at most that); the program's\n"
     "share counts everything issued against the same contract.\n"
     "  --cost YUAN            the declared compute cost (required by programs with a share)\n"
     "  --expires DATE         usable through that whole day: expires at 00:00 CST of the\n"
     "                         next day. Default: the program's expiry, or the end of the\n"
     "                         budget year (CST)\n"
     "  --expires-ms MS        the expiry instant, ms since the epoch (UTC)\n"
     "  --ref TEXT             the application reference (申请编号); the ledger accepts each\n"
     "                         once, so a retried command cannot issue twice. Without --ref\n"
     "                         slq uses cli:ISSUER_ADDRESS:NONCE (unique, but a retry is a new\n"
     "                         issue) and says so on stderr.\n"
     "Prints the new voucher id (line \"voucher ID\").\n" TX_HELP},
    {"transfer", cli_cmd_transfer, "transfer --key KEY --voucher ID --to ADDR --amount YUAN",
     "Moves YUAN of voucher ID to ADDR along an edge the program allows (holder -> centre\n"
     "as payment, intermediary -> holder). A partial amount splits the voucher: prints the\n"
     "recipient's new voucher (\"voucher ID\") and the change kept (\"change ID\").\n" TX_HELP},
    {"redeem", cli_cmd_redeem,
     "redeem --key CENTRE_KEY --voucher ID[,ID...] --contract REF [--evidence FILE]",
     "A centre burns vouchers it holds (at most 64) against one service contract and opens\n"
     "a settlement claim; prints the claim id (\"claim ID\"). The contract reference can be\n"
     "claimed once on the whole chain. --evidence FILE: the evidence hash is the chain hash\n"
     "of the file's bytes (invoice, delivery proof); without it, the hash of REF.\n" TX_HELP},
    {"review", cli_cmd_review,
     "review --key FINANCE_KEY --claim ID --approve|--reject --reason TEXT",
     "Finance (or the regulator, with its key) reviews claim ID once, with a reason: --approve\n"
     "lets it be settled; --reject closes it unpaid and returns its amount to the pools of\n"
     "its vouchers' budget years and programs (reported as clawed_back).\n" TX_HELP},
    {"settle", cli_cmd_settle,
     "settle --key FINANCE_KEY --claim ID --payment REF --payer NAME [--amount YUAN]",
     "The finance bureau pays approved claim ID with payment reference REF. --payer: who\n"
     "pays, one of the payers the genesis policy lists (\"city\", a district; none listed:\n"
     "\"city\"). --amount: the amount paid, at most the claim's (default: all of it).\n" TX_HELP},
    {"revoke", cli_cmd_revoke, "revoke --key ISSUER_KEY --voucher ID --reason TEXT",
     "The issuer cancels an active voucher; its amount returns to its year's pool.\n" TX_HELP},
    {"apply", cli_cmd_apply,
     "apply --key HOLDER_KEY --program NAME --amount YUAN --contract REF [--cost YUAN]\n"
     "           --evidence FILE",
     "A holder (enterprise, maker, research institute, university, intermediary) applies for\n"
     "YUAN under a program against one compute contract REF of cost YUAN (required by\n"
     "programs with a share). The contract is one however REF is spelt; every application\n"
     "naming it repeats the applicant, program and cost of the first. The evidence hash is\n"
     "the chain hash of FILE (the contract or quotation). Prints the application id\n"
     "(line \"application ID\"); the issuer grants it with slq issue --application ID or turns\n"
     "it down with slq reject.\n" TX_HELP},
    {"reject", cli_cmd_reject, "reject --key ISSUER_KEY --application ID --reason TEXT",
     "The issuer turns an open application down with a reason.\n" TX_HELP},
    {"account", cli_cmd_account, "account ADDR",
     "The party at ADDR: role, name, the committed nonce, the pending ones (pending_nonce:\n"
     "the last of those that run next, which slq signs after; pending_max_nonce: the highest)\n"
     "and the gap when transactions wait behind a missing nonce (they are dropped after\n"
     "60 s unless it arrives). With --json: the node's answer to GET /v1/accounts/ADDR.\n"},
    {"balance", cli_cmd_balance, "balance ADDR",
     "The active vouchers of ADDR (held and unexpired at the tip's block time) and their\n"
     "total. With --json: {\"address\", \"total_fen\", \"vouchers\": [{\"id\", \"amount_fen\",\n"
     "\"program\", \"budget_year\", \"expires_at_ms\", \"state\"}]}.\n"},
    {"vouchers", cli_cmd_vouchers, "vouchers ADDR",
     "Every voucher ADDR holds, the expired ones included (state \"expired\", not in the\n"
     "total). With --json: the node's answer to GET /v1/accounts/ADDR/vouchers?all=1.\n"},
    {"voucher", cli_cmd_voucher, "voucher ID",
     "One voucher, its lineage (ancestors up to the issued root) and the transactions that\n"
     "created or closed them. With --json: the node's answer to GET /v1/vouchers/ID.\n"},
    {"tx", cli_cmd_tx, "tx HASH",
     "A transaction and its result (pending, committed with height, or rejected with the\n"
     "reason); a pending one that waits behind a missing nonce of its signer shows the gap.\n"
     "With --json: the node's answer to GET /v1/txs/HASH.\n"},
    {"block", cli_cmd_block, "block [HEIGHT]",
     "The block at HEIGHT, or the latest, with its commit certificate.\n"
     "With --json: the node's answer to GET /v1/blocks/HEIGHT.\n"},
    {"claims", cli_cmd_claims, "claims [--centre ADDR]",
     "Redemption claims (of one centre with --centre): amount, contract, settlement.\n"
     "With --json: the node's answer to GET /v1/claims.\n"},
    {"applications", cli_cmd_applications,
     "applications [--holder ADDR] [--status open|issued|rejected]",
     "Applications (of one holder with --holder, in one status with --status): program,\n"
     "amount asked and issued, contract, cost, status.\n"
     "With --json: the node's answer to GET /v1/applications.\n"},
    {"status", cli_cmd_status, "status",
     "The node's chain id, suite, height, tip hash and validators.\n"
     "With --json: the node's answer to GET /v1/status.\n"},
    {"audit", cli_cmd_audit,
     "audit [--year YYYY] [--csv | --sign KEY [--passphrase-env VAR]]\n"
     "       slq audit verify-report FILE [--signer ADDR]",
     "The regulator's report of a budget year (default: the current year, CST) at the\n"
     "node's tip, recomputed from the chain: cap, issued, headroom, whether the cap held after\n"
     "every transaction, redeemed per centre with the settlement claims and contract\n"
     "references, transferred, revoked, expired, outstanding, the conservation equation, per\n"
     "program, per holder with the per-holder caps, and anomalies worth a look. It is the\n"
     "same JSON that `slqd verify --report --json --year YYYY` prints offline for that height.\n"
     "  --json                 the node's JSON (GET /v1/report/YEAR) as received\n"
     "  --csv                  one fact per row: year,section,subject,metric,value (fen)\n"
     "  --sign KEY             print the node's JSON wrapped in an envelope signed with KEY\n"
     "                         (the regulator's key): {\"report\", \"signer\", \"suite\",\n"
     "                         \"pubkey\", \"signature\"}\n"
     "verify-report FILE checks a signed envelope offline: exit 0 valid, 2 invalid or damaged,\n"
     "1 unreadable. --signer ADDR also requires that ADDR signed it.\n"},
};

const size_t cli_commands_count = sizeof cli_commands / sizeof cli_commands[0];
