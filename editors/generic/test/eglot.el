;;; eglot.el --- agentls in Emacs with eglot and no agentls package, end to end  -*- lexical-binding: t -*-

;; Run by run.sh as `emacs --batch -l eglot.el` in a throwaway git workspace holding
;; hello.py (`print('hi')` inside `greet`).  Only what an eglot user has: agentls registered
;; in `eglot-server-programs', the README's `agentls-start-task' (`eglot-execute-command'
;; of agent.startTask), the hunk as a
;; flymake diagnostic, and `eglot-code-actions' with its menu answered.  The scripted model
;; turns 'hi' into 'hello'.  Every step is checked; any failure exits with status 1.
;;
;; What it guards against: jsonrpc up to 1.0.18 (Emacs 28 has 1.0.14) stops reading at the
;; reply it waits for, so a `workspace/applyEdit' the server sends after answering
;; `workspace/executeCommand' stays unread until the user does something else.  agentls
;; answers the command only once the editor has answered the edit, so the buffer must read
;; the new text the moment `eglot-code-actions' returns, without waiting for anything.

(require 'cl-lib)
(require 'subr-x)
(require 'eglot)
(require 'flymake)

(defconst agentls-test-timeout 20 "Seconds any one wait may take.")

(defun agentls-test-fail (format-string &rest args)
  (let ((text (apply #'format format-string args)))
    (princ (format "FAIL: %s\n" text) #'external-debugging-output)
    (with-current-buffer (get-buffer-create "*Messages*")
      (princ (format "messages:\n%s\n" (buffer-string)) #'external-debugging-output))
    (kill-emacs 1)))

(defun agentls-test-check (condition format-string &rest args)
  (unless condition (apply #'agentls-test-fail format-string args)))

(defun agentls-test-wait (what predicate)
  "Process input and timers until PREDICATE holds; fail after `agentls-test-timeout'."
  (let ((deadline (+ (float-time) agentls-test-timeout))
        value)
    (while (and (not (setq value (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or value (agentls-test-fail "timed out waiting for %s" what))))

(defun agentls-test-messages ()
  (with-current-buffer (get-buffer-create "*Messages*") (buffer-string)))

(defun agentls-test-disk (file)
  (with-temp-buffer (insert-file-contents file) (buffer-string)))

(defun agentls-test-pick-action (title-prefix)
  "Runs `eglot-code-actions' at point, choosing the entry whose title starts with
TITLE-PREFIX, as a user picking it from the menu would.  Returns the titles offered."
  (let (offered)
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (or (cl-find-if (lambda (title) (string-prefix-p title-prefix title)) offered)
                     (agentls-test-fail "no action %S among %S" title-prefix offered)))))
      ;; A keyboard event, so that eglot asks through `completing-read', not a popup menu.
      (let ((last-nonmenu-event ?\r))
        (eglot-code-actions (line-beginning-position) (line-end-position) nil t)))
    offered))

;; The command from editors/README.md, as a user puts it in init.el.
(defun agentls-start-task (prompt)
  "Start an agentls task; the active region (else the file) goes along as context."
  (interactive "sagentls task: ")
  (let ((args (list :prompt prompt :uri (eglot--path-to-uri (buffer-file-name)))))
    (when (use-region-p)
      (setq args (append args (list :range (list :start (eglot--pos-to-lsp-position (region-beginning))
                                                 :end (eglot--pos-to-lsp-position (region-end)))))))
    (eglot-execute-command (eglot--current-server-or-lose) 'agent.startTask (vector args))))

(let* ((bin (or (getenv "AGENTLS_BIN") (agentls-test-fail "AGENTLS_BIN is not set")))
       (file (expand-file-name "hello.py" default-directory))
       (original (agentls-test-disk file)))
  ;; What a user writes in init.el (editors/README.md).
  (add-to-list 'eglot-server-programs `(python-mode . (,bin)))
  ;; eglot 1.9 asks "Proceed?" before every server edit; the user says yes.
  (setq eglot-confirm-server-initiated-edits nil)
  (find-file file)
  (python-mode)
  ;; M-x eglot (`eglot-ensure' would wait for a command loop that batch mode has not).
  (apply #'eglot (eglot--guess-contact))
  (agentls-test-wait "eglot to connect" (lambda () (eglot-current-server)))
  (let ((server (eglot-current-server)))
    (agentls-test-wait "the server to be initialized"
                       (lambda () (eglot--server-capable :executeCommandProvider)))
    ;; M-x agentls-start-task RET change the greeting RET
    (let* ((started (agentls-start-task "change the greeting"))
           (task (plist-get started :taskId)))
      (agentls-test-check (stringp task) "agent.startTask answered %S" started)
      (agentls-test-wait "the message that the task completed"
                         (lambda () (string-match-p "completed: Changed the greeting"
                                                    (agentls-test-messages))))
      (agentls-test-check (string-match-p "1 hunk in 1 file to review" (agentls-test-messages))
                          "the completion message does not say what to review")
      ;; The hunk is a flymake diagnostic on line 2.
      (let ((diagnostic
             (agentls-test-wait
              "the hunk's diagnostic"
              (lambda ()
                (flymake-start)
                (cl-find-if (lambda (d) (string-match-p "agentls" (flymake-diagnostic-text d)))
                            (flymake-diagnostics (point-min) (point-max)))))))
        (agentls-test-check
         (string-match-p "change the greeting proposes: print('hi') → print('hello')"
                         (flymake-diagnostic-text diagnostic))
         "diagnostic text: %S" (flymake-diagnostic-text diagnostic))
        (goto-char (flymake-diagnostic-beg diagnostic))
        (agentls-test-check (= (line-number-at-pos) 2) "the diagnostic is on line %d"
                            (line-number-at-pos)))
      ;; Accept through the code action menu: the buffer changes at once.
      (let ((offered (agentls-test-pick-action "Accept:")))
        (agentls-test-check
         (member "Accept: print('hi') → print('hello') (change the greeting)" offered)
         "offered %S" offered))
      (agentls-test-check (string-match-p "print('hello')" (buffer-string))
                          "the accept did not reach the buffer at once: %S" (buffer-string))
      (agentls-test-check (equal (agentls-test-disk file) original)
                          "the disk changed before saving")
      (save-buffer)
      (agentls-test-check (string-match-p "print('hello')" (agentls-test-disk file))
                          "saving did not write the accepted text")
      ;; The accepted hunk can be undone the same way, and nothing else is offered there.
      (goto-char (point-min))
      (forward-line 1)
      (let ((offered (agentls-test-pick-action "Undo accept:")))
        (agentls-test-check
         (equal offered '("Undo accept: print('hi') → print('hello') (change the greeting)"))
         "offered %S" offered))
      (agentls-test-check (string-match-p "print('hi')" (buffer-string))
                          "the undo did not reach the buffer at once: %S" (buffer-string))
      (agentls-test-check (string-match-p "print('hello')" (agentls-test-disk file))
                          "the undo wrote the disk before saving"))
    (set-buffer-modified-p nil)
    (eglot-shutdown server))
  (princ "eglot: all checks passed\n" #'external-debugging-output)
  (kill-emacs 0))

;;; eglot.el ends here
