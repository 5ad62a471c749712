<?php
// Administration area: nginx lets only the declared administrative networks reach /admin/.
declare(strict_types=1);
require __DIR__ . '/../lib/site.php';
header('Content-Type: text/html; charset=utf-8');
echo '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Administration</title></head><body>';
echo '<h1 id="admin">Site administration</h1><p>Release ' . h(release()) . '</p></body></html>';
