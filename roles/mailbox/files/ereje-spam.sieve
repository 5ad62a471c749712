# Ereje (roles/mailbox), YU-1.3.2-g: mail the gateway marked as spam goes into Junk. Filing it
# ends the delivery's sequence of scripts (Pigeonhole runs the next one only while the implicit
# keep stands; "stop" says so here): the user's own filters and out-of-office reply never run on
# it, spam is never answered. The gateway removes any X-Spam-Flag a sender wrote before it scores.
require ["fileinto", "mailbox"];
if header :is "X-Spam-Flag" "YES" {
  fileinto :create "Junk";
  stop;
}
