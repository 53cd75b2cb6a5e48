package localui

import "html/template"

// pageCSS is the pages' one stylesheet, inline and admitted by its hash in the CSP.
const pageCSS = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f4;color:#1d2521}
header{background:#1b6b3a;color:#fff;padding:.8em 1.5em}
header h1{margin:0;font-size:1.3em}
main{max-width:46em;margin:1.5em auto;padding:0 1em}
section{background:#fff;border:1px solid #d5ddd7;border-radius:8px;padding:1em 1.5em;margin-bottom:1.2em}
h2{font-size:1.1em;margin-top:0}
label{display:block;margin:.6em 0 .2em;font-weight:600}
input[type=text],input[type=password],input:not([type]){width:100%;box-sizing:border-box;padding:.45em;border:1px solid #9aa8a0;border-radius:4px;font:inherit}
.hint{color:#56625b;font-size:.9em;font-weight:400}
button{margin-top:.9em;padding:.5em 1.2em;border:0;border-radius:4px;background:#1b6b3a;color:#fff;font:inherit;cursor:pointer}
button.danger{background:#b3261e}
button.plain{background:#e4e9e5;color:#1d2521}
.error{background:#fde8e6;border:1px solid #e6a39d;color:#7c1d16;padding:.6em 1em;border-radius:6px}
.ok{background:#e6f4ea;border:1px solid #9fd0ae;color:#164d2a;padding:.6em 1em;border-radius:6px}
.warn{background:#fff4dc;border:1px solid #e9c46a;padding:.6em 1em;border-radius:6px}
.qr{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}
.qr>div{flex:1;min-width:16em}
.qr img{width:240px;height:240px;image-rendering:pixelated;border:1px solid #d5ddd7}
.secret{font:1.15em ui-monospace,Menlo,Consolas,monospace;letter-spacing:.05em;background:#f4f6f4;padding:.3em .5em;border-radius:4px;word-break:break-all}
input.code{font:1.6em ui-monospace,Menlo,Consolas,monospace;width:8em;letter-spacing:.2em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.4em .5em;border-bottom:1px solid #e4e9e5;vertical-align:top}
details{margin:.3em 0;display:inline-block;margin-right:1.5em;vertical-align:top}
.acct{border-bottom:1px solid #e4e9e5;padding:.6em 0}
summary{cursor:pointer;color:#1b6b3a}
.row{display:flex;gap:1em;flex-wrap:wrap}.row>div{flex:1;min-width:12em}
`

var templates = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.}} · foureyes</title>
<style>` + pageCSS + `</style></head>
<body><header><h1>foureyes · {{.}}</h1></header><main>{{end}}

{{define "foot"}}</main></body></html>{{end}}

{{define "forbidden"}}{{template "head" "Not available"}}
<section><p class="error">{{.Message}}</p></section>
{{template "foot"}}{{end}}

{{define "vouch"}}{{if .Vouchers}}
<fieldset>
<legend>A second approver vouches</legend>
<p class="hint">Who may approve is itself four-eyes: another approver confirms this change with the current code from their phone.</p>
<label for="by">Approver who vouches</label>
<select id="by" name="by" required>{{range .Vouchers}}<option value="{{.ID}}"{{if eq .ID $.By}} selected{{end}}>{{.Name}} ({{.ID}})</option>{{end}}</select>
<label for="by_code">Their current code</label>
<input class="code" id="by_code" name="by_code" inputmode="numeric" autocomplete="off" pattern="[0-9 ]{6,10}" required>
</fieldset>
{{end}}{{end}}

{{define "enrol"}}{{template "head" "Enrol an approver"}}
{{with .Error}}<p class="error">{{.}}</p>{{end}}

{{if .Confirmed}}
<section>
<p class="ok"><strong>Confirmed.</strong> {{.Confirmed.Name}} ({{.Confirmed.ID}}) can now approve posts with the codes from their phone.</p>
<p>Nobody else needs the QR code or the secret key: close this page. To set up a new phone later, enrol the same ID again.</p>
<form method="get" action="{{.Base}}/enrol"><button class="plain">Enrol another approver</button></form>
</section>

{{else if .Pending}}
<section>
<h2>Step 2: add {{.Pending.Approver.Name}} to the authenticator app</h2>
<p>Only {{.Pending.Approver.Name}} should see this page now. Open the authenticator app on the phone, choose to add an account, and scan this code.</p>
<div class="qr">
<img src="{{.QR}}" alt="QR code for the authenticator app">
<div>
<p>Any authenticator app that follows the time-based one-time password standard (TOTP, RFC 6238) works, for example <strong>FreeOTP</strong>, <strong>Aegis</strong>, <strong>Google Authenticator</strong>, <strong>Microsoft Authenticator</strong> or <strong>2FAS</strong>. No account with the app's maker is needed.</p>
<details><summary>The phone cannot scan? Type the key instead</summary>
<p>Secret key: <span class="secret">{{.Secret}}</span></p>
<p class="hint">Type of key: time-based · {{.Digits}} digits · every {{.Period}} seconds · {{.Algorithm}}</p>
</details>
</div>
</div>
</section>
<section>
<h2>Step 3: type the code the app shows</h2>
<form method="post" action="{{.Base}}/enrol">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="op" value="confirm">
<input type="hidden" name="id" value="{{.Pending.Approver.ID}}">
<label for="code">Current code</label>
<input class="code" id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,10}" required autofocus>
<p class="hint">This proves the phone has the key. Until then {{.Pending.Approver.Name}} cannot approve anything.</p>
<button>Confirm</button>
</form>
<form method="post" action="{{.Base}}/enrol">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="op" value="cancel">
<button class="plain">Start again</button>
</form>
</section>

{{else if .Replace}}
<section>
<p class="warn"><strong>{{.ID}} is already enrolled.</strong> Enrolling again gives them a new secret key: the codes of the phone they use now stop working at once. Do this when a phone was lost, stolen or replaced. The change is recorded in the audit trail.</p>
<form method="post" action="{{.Base}}/enrol">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="op" value="enrol">
<input type="hidden" name="id" value="{{.ID}}">
<input type="hidden" name="name" value="{{.Name}}">
<input type="hidden" name="os_user" value="{{.OSUser}}">
<input type="hidden" name="replace" value="yes">
{{template "vouch" .}}
<button class="danger">Replace the secret key of {{.ID}}</button>
</form>
<form method="get" action="{{.Base}}/enrol"><button class="plain">Cancel</button></form>
</section>

{{else}}
<section>
<h2>Step 1: who approves?</h2>
<p>An approver is a press officer who may authorise posts. They need their phone with an authenticator app for the next step.</p>
<form method="post" action="{{.Base}}/enrol">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="op" value="enrol">
<label for="id">Approver ID <span class="hint">short, no spaces, e.g. press-mueller</span></label>
<input id="id" name="id" value="{{.ID}}" required autocomplete="off" pattern="[A-Za-z0-9._-]+">
<label for="name">Full name</label>
<input id="name" name="name" value="{{.Name}}" required autocomplete="off">
<label for="os_user">Computer login name <span class="hint">optional: links the approver to their own login, so they cannot approve their own posts</span></label>
<input id="os_user" name="os_user" value="{{.OSUser}}" autocomplete="off">
{{template "vouch" .}}
<button>Next: show the QR code</button>
</form>
</section>
{{if .Approvers}}
<section>
<h2>Enrolled approvers</h2>
<table><tr><th>ID</th><th>Name</th><th>State</th></tr>
{{range .Approvers}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{if .Unverified}}unverified: not in the audit trail, IT must check it{{else if .Disabled}}disabled: needs unlocking{{else if .Confirmed}}confirmed{{else}}waiting for first code{{end}}</td></tr>
{{end}}</table>
<p class="hint">Lost phone? Enrol the same ID again, with another approver vouching: the old phone's codes stop working.</p>
</section>
{{end}}
{{end}}
{{template "foot"}}{{end}}

{{define "accounts"}}{{template "head" "Accounts"}}
{{with .Flash}}<p class="ok">{{.}}</p>{{end}}
{{with .Error}}<p class="error">{{.}}</p>{{end}}
<section>
<h2>Official accounts in custody</h2>
{{if .Accounts}}
{{range .Accounts}}<div class="acct">
<div><strong>{{.ID}}</strong> <span class="hint">· signs in as {{.Username}} · platform 2FA {{if .Has2FA}}stored{{else}}none{{end}} · password {{if .PasswordChanged.IsZero}}never changed{{else}}changed {{.PasswordChanged.Format "2006-01-02 15:04"}}{{end}}</span></div>
<details><summary>Change password</summary>
<form method="post" action="{{$.Base}}/accounts">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<input type="hidden" name="op" value="password">
<input type="hidden" name="id" value="{{.ID}}">
<label for="pw-{{.ID}}">New password <span class="hint">after the platform forced a reset</span></label>
<input type="password" id="pw-{{.ID}}" name="password" autocomplete="new-password" required>
<button>Store new password</button>
</form></details>
<details><summary>Remove</summary>
<form method="post" action="{{$.Base}}/accounts">
<input type="hidden" name="csrf" value="{{$.CSRF}}">
<input type="hidden" name="op" value="remove">
<input type="hidden" name="id" value="{{.ID}}">
<label><input type="checkbox" name="confirm" value="yes" required> Remove {{.ID}} and delete its stored password</label>
<button class="danger">Remove</button>
</form></details>
</div>
{{end}}
{{else}}<p>No accounts yet.</p>{{end}}
</section>
<section>
<h2>Add an account</h2>
<p>The password goes straight into this computer's keyring. It is never shown again, and staff never need to know it.</p>
<form method="post" action="{{$.Base}}/accounts" autocomplete="off">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<input type="hidden" name="op" value="add">
<div class="row">
<div><label for="platform">Platform{{if .Planned}} <span class="hint">not governed yet: {{.Planned}}</span>{{end}}</label>
<select id="platform" name="platform" required>{{range .Platforms}}<option value="{{.ID}}"{{if .Selected}} selected{{end}}>{{.Name}}</option>{{end}}</select></div>
<div><label for="handle">Handle <span class="hint">as shown on the platform</span></label>
<input id="handle" name="handle" value="{{.Handle}}" required></div>
</div>
<label for="username">Login name <span class="hint">user name or e-mail used to sign in</span></label>
<input id="username" name="username" value="{{.Username}}" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="new-password" required>
<label for="totp_seed">Platform 2FA key <span class="hint">optional: the account's own authenticator key, if the platform asks for one at login</span></label>
<input type="password" id="totp_seed" name="totp_seed" autocomplete="off">
<button>Add account</button>
</form>
</section>
{{template "foot"}}{{end}}
`))
