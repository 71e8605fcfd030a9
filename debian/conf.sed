# debian/conf.sed: deploy/aamp-milter.conf.example -> /etc/aamp-milter/aamp-milter.conf of
# the package (the paths are already the package's; only the header changes).
1s|.*|# /etc/aamp-milter/aamp-milter.conf — installed by the aamp-milter package (a conffile: your\
# changes are kept on upgrade). Every key is shown with its default; man aamp-milter.conf(5).|
